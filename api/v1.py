"""The mini-program API, version 1: thin views over the same handlers the bot uses."""

from __future__ import annotations

import logging
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
from core.clock import utcnow
from handlers import accounts
from handlers.study import MemberWeek, check_in, study_day, study_record
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


def week_json(week: MemberWeek) -> dict[str, Any]:
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
    done = accounts.login(
        code,
        exchange=lambda c: auth.code_to_session(settings, c),
        address=client_address(),
        settings=settings,
        now=utcnow(),
    )
    answer: dict[str, Any] = {
        "token": auth.token_for(settings, done.session),
        "expires_at": iso(done.session.expires_at),
        "bound": done.member is not None,
    }
    if done.member is not None:
        answer["member"] = profile(done.member)
    return jsonify(answer)


@bp.post("/bind")
def bind_account() -> Response:
    """Bind the logged-in mini-program account with a secretary's one-time code."""
    code = body({"code": Field(max_len=64)})["code"]
    bound = accounts.bind_account(session().openid, code, settings=_settings(), now=utcnow())
    return jsonify({"bound": True, "member": profile(bound)})


@bp.get("/me")
def me() -> Response:
    return jsonify(profile(member()))


@bp.get("/study/today")
def study_today() -> Response:
    today = study_day(member(), now=utcnow(), tz=tz())
    return jsonify(
        {
            "day": day_text(today.day),
            "topic": topic_json(today.topic),
            "checked_in": today.checked_in,
        }
    )


@bp.post("/study/checkins")
def study_checkin() -> tuple[Response, int]:
    """Check in for today, as 学习 does in the bot (a repeat updates the reflection)."""
    max_chars = _settings().study.reflection_max_chars
    reflection = body(
        {"reflection": Field(required=False, max_len=max_chars, multiline=True)}
    ).get("reflection", "")
    done = check_in(member(), reflection, now=utcnow(), tz=tz(), max_chars=max_chars, source="api")
    answer = {
        "created": done.result.created,
        "checkin": checkin_json(done.result.checkin),
        "topic": topic_json(done.result.topic),
        "week": week_json(done.week),
    }
    return jsonify(answer), 201 if done.result.created else 200


@bp.get("/study/me")
def study_me() -> Response:
    record = study_record(member(), now=utcnow(), tz=tz(), recent=RECENT_CHECKINS)
    return jsonify(
        {"week": week_json(record.week), "recent": [checkin_json(c) for c in record.recent]}
    )


@bp.get("/openapi.json")
def openapi() -> Response:
    from api.openapi import document

    return jsonify(document())
