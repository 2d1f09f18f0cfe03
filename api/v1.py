"""The mini-program API, version 1: thin views over the same handlers the bot uses."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Response, jsonify

from api import auth
from api.common import (
    Field,
    body,
    bp,
    client_address,
    day_text,
    iso,
    member,
    session,
    tz,
)
from api.common import settings as _settings
from api.errors import ApiError
from core.clock import local_day, utcnow
from handlers.binding import bind, failures_in_last_hour, touch
from handlers.study import member_week, record_study, today_topic
from models.api import ApiSession
from models.base import write_tx
from models.org import ROLES, Member, mask_phone
from models.study import StudyCheckin, StudyTopic

log = logging.getLogger(__name__)

RECENT_CHECKINS = 30


# ---- representations -------------------------------------------------------------------------


def profile(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "name": m.name,
        "phone": mask_phone(m.phone),
        "status": m.status,
        "status_label": m.status_label,
        "branch": {"id": m.branch.id, "name": m.branch.name},
        "roles": [{"code": r, "label": ROLES.get(r, r)} for r in sorted(m.role_set)],
    }


def topic_json(t: StudyTopic | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "id": t.id,
        "day": day_text(t.day),
        "title": t.title,
        "content": t.content,
        "url": t.url,
    }


def checkin_json(c: StudyCheckin) -> dict[str, Any]:
    return {
        "id": c.id,
        "day": day_text(c.day),
        "topic_id": c.topic_id,
        "reflection": c.reflection,
        "source": c.source,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def week_json(m: Member, now: datetime) -> dict[str, Any]:
    week = member_week(m, now=now, tz=tz())
    return {
        "week_start": day_text(week.week_start),
        "days_checked": week.days_checked,
        "days_count": week.days_count,
        "streak": week.streak,
        "total": week.total,
    }


# ---- routes ---------------------------------------------------------------------------------


@bp.post("/login")
def login() -> Response:
    """Exchange a wx.login code for a session token."""
    code = body({"code": Field(max_len=128)})["code"]
    settings = _settings()
    per_minute = settings["api"]["login_rate_per_minute"]
    now = utcnow()
    auth.rate_limit(f"api-login:ip:{client_address()}", per_minute, now)
    wx = auth.code_to_session(settings, code)
    auth.rate_limit(f"api-login:openid:{wx.openid}", per_minute, now)
    token, row = auth.start_session(settings, wx, now)
    bound = auth.mini_member(wx.openid)
    answer: dict[str, Any] = {
        "token": token,
        "expires_at": iso(row.expires_at),
        "bound": bound is not None,
    }
    if bound is not None:
        answer["member"] = profile(bound)
    return jsonify(answer)


@bp.post("/bind")
def bind_account() -> Response:
    """Bind the logged-in mini-program account with a secretary's one-time code."""
    code = body({"code": Field(max_len=64)})["code"]
    sess = session()
    settings = _settings()
    now = utcnow()
    current = auth.mini_member(sess.openid)
    if current is not None:
        raise ApiError(
            409,
            "already_bound",
            f"您的微信已绑定为 {current.name}（{current.branch.name}），无需重复绑定。",
        )
    max_failures = settings["binding"]["max_failures_per_hour"]
    if failures_in_last_hour(sess.openid, now) >= max_failures:
        raise ApiError(
            429, "rate_limited", "绑定码错误次数过多，请 1 小时后再试，或联系支部书记确认绑定码。"
        )
    with write_tx():
        outcome = bind(
            sess.openid,
            code,
            secret_key=settings["app"]["secret_key"],
            now=now,
            max_failures=max_failures,
            app="mini",
        )
        if outcome.member is not None:
            ApiSession.update(member=outcome.member.id).where(
                ApiSession.openid == sess.openid, ApiSession.revoked_at.is_null()
            ).execute()
    if outcome.member is None:
        raise ApiError(400, "bind_code_invalid", outcome.message)
    return jsonify({"bound": True, "member": profile(outcome.member)})


@bp.get("/me")
def me() -> Response:
    return jsonify(profile(member()))


@bp.get("/study/today")
def study_today() -> Response:
    m = member()
    day = local_day(utcnow(), tz())
    topic = today_topic(m, day)
    checked = StudyCheckin.select().where(StudyCheckin.member == m.id, StudyCheckin.day == day)
    return jsonify(
        {"day": day_text(day), "topic": topic_json(topic), "checked_in": checked.exists()}
    )


@bp.post("/study/checkins")
def study_checkin() -> tuple[Response, int]:
    """Check in for today, as 学习 does in the bot (a repeat updates the reflection)."""
    max_chars = _settings()["study"]["reflection_max_chars"]
    reflection = body(
        {"reflection": Field(required=False, max_len=max_chars, multiline=True)}
    ).get("reflection", "")
    m = member()
    now = utcnow()
    with write_tx():
        result = record_study(m, reflection, now=now, tz=tz(), max_chars=max_chars, source="api")
        touch(m, now)
    answer = {
        "created": result.created,
        "checkin": checkin_json(result.checkin),
        "topic": topic_json(result.topic),
        "week": week_json(m, now),
    }
    return jsonify(answer), 201 if result.created else 200


@bp.get("/study/me")
def study_me() -> Response:
    m = member()
    recent = (
        StudyCheckin.select()
        .where(StudyCheckin.member == m.id)
        .order_by(StudyCheckin.day.desc(), StudyCheckin.id.desc())
        .limit(RECENT_CHECKINS)
    )
    return jsonify({"week": week_json(m, utcnow()), "recent": [checkin_json(c) for c in recent]})


@bp.get("/openapi.json")
def openapi() -> Response:
    from api.openapi import document

    return jsonify(document())
