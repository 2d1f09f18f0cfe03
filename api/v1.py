"""The mini-program API, version 1: thin views over the same handlers the bot uses."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Response, jsonify

from api import auth
from api.common import (
    body,
    bp,
    client_address,
    day_text,
    iso,
    member,
    render,
    session,
    tz,
)
from api.common import settings as _settings
from api.errors import ApiError
from api.openapi import operation
from api.shapes import v1 as shapes
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


def profile(m: Member) -> shapes.Member:
    return shapes.Member(
        id=m.id,
        name=m.name,
        phone=mask_phone(m.phone),
        status=m.status,
        status_label=m.status_label,
        branch=shapes.Branch(id=m.branch.id, name=m.branch.name),
        roles=[shapes.Role(code=r, label=ROLES.get(r, r)) for r in sorted(m.role_set)],
    )


def topic_json(t: StudyTopic | None) -> shapes.Topic | None:
    if t is None:
        return None
    return shapes.Topic(id=t.id, day=day_text(t.day), title=t.title, content=t.content, url=t.url)


def checkin_json(c: StudyCheckin) -> shapes.Checkin:
    return shapes.Checkin(
        id=c.id,
        day=day_text(c.day),
        topic_id=c.topic_id,
        reflection=c.reflection,
        source=c.source,
        created_at=iso(c.created_at),
        updated_at=iso(c.updated_at),
    )


def week_json(m: Member, now: datetime) -> shapes.Week:
    week = member_week(m, now=now, tz=tz())
    return shapes.Week(
        week_start=day_text(week.week_start),
        days_checked=week.days_checked,
        days_count=week.days_count,
        streak=week.streak,
        total=week.total,
    )


# ---- routes ---------------------------------------------------------------------------------


@bp.post("/login")
@operation(
    "Exchange a wx.login code (jscode2session) for a session token",
    {200: (shapes.LoginResponse, "Logged in; bound says whether a member is linked")},
    errors=("400", "403", "429", "502"),
    json=shapes.LoginRequest,
    public=True,
)
def login() -> Response:
    """Exchange a wx.login code for a session token."""
    code = body(shapes.LoginRequest)["code"]
    settings = _settings()
    per_minute = settings["api"]["login_rate_per_minute"]
    now = utcnow()
    auth.rate_limit(f"api-login:ip:{client_address()}", per_minute, now)
    wx = auth.code_to_session(settings, code)
    auth.rate_limit(f"api-login:openid:{wx.openid}", per_minute, now)
    token, row = auth.start_session(settings, wx, now)
    bound = auth.mini_member(wx.openid)
    answer = shapes.LoginResponse(
        token=token, expires_at=iso(row.expires_at), bound=bound is not None
    )
    if bound is not None:
        answer.member = profile(bound)
    return render(answer)


@bp.post("/bind")
@operation(
    "Bind the account with a secretary's one-time code",
    {200: (shapes.BindResponse, "Bound")},
    errors=("400", "401", "409", "429"),
    json=shapes.BindRequest,
)
def bind_account() -> Response:
    """Bind the logged-in mini-program account with a secretary's one-time code."""
    code = body(shapes.BindRequest)["code"]
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
    return render(shapes.BindResponse(bound=True, member=profile(outcome.member)))


@bp.get("/me")
@operation(
    "My profile, branch and roles", {200: (shapes.Member, "The member")}, errors=("401", "403")
)
def me() -> Response:
    return render(profile(member()))


@bp.get("/study/today")
@operation(
    "Today's study topic and whether I checked in",
    {200: (shapes.StudyToday, "Today")},
    errors=("401", "403"),
)
def study_today() -> Response:
    m = member()
    day = local_day(utcnow(), tz())
    topic = today_topic(m, day)
    checked = StudyCheckin.select().where(StudyCheckin.member == m.id, StudyCheckin.day == day)
    return render(
        shapes.StudyToday(day=day_text(day), topic=topic_json(topic), checked_in=checked.exists())
    )


@bp.post("/study/checkins")
@operation(
    "Check in for today with an optional reflection (a repeat updates it)",
    {
        201: (shapes.CheckinResponse, "Checked in"),
        200: (shapes.CheckinResponse, "Already checked in today; reflection updated"),
    },
    errors=("400", "401", "403"),
    json=shapes.CheckinRequest,
)
def study_checkin() -> tuple[Response, int]:
    """Check in for today, as 学习 does in the bot (a repeat updates the reflection)."""
    max_chars = _settings()["study"]["reflection_max_chars"]
    reflection = body(shapes.CheckinRequest).get("reflection", "")
    m = member()
    now = utcnow()
    with write_tx():
        result = record_study(m, reflection, now=now, tz=tz(), max_chars=max_chars, source="api")
        touch(m, now)
    answer = shapes.CheckinResponse(
        created=result.created,
        checkin=checkin_json(result.checkin),
        topic=topic_json(result.topic),
        week=week_json(m, now),
    )
    return render(answer), 201 if result.created else 200


@bp.get("/study/me")
@operation(
    "My week, streak, total and recent check-ins",
    {200: (shapes.StudyMe, "My study")},
    errors=("401", "403"),
)
def study_me() -> Response:
    m = member()
    recent = (
        StudyCheckin.select()
        .where(StudyCheckin.member == m.id)
        .order_by(StudyCheckin.day.desc(), StudyCheckin.id.desc())
        .limit(RECENT_CHECKINS)
    )
    return render(
        shapes.StudyMe(week=week_json(m, utcnow()), recent=[checkin_json(c) for c in recent])
    )


@bp.get("/openapi.json")
@operation("This document", {200: (shapes.OpenApiDocument, "OpenAPI 3.1")}, public=True)
def openapi() -> Response:
    from api.openapi import document

    return jsonify(document())
