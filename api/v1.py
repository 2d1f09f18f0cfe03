"""The mini-program API, version 1: thin views over the same handlers the bot uses."""

from __future__ import annotations

import logging

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
from api.openapi import operation
from api.shapes import v1 as shapes
from core.clock import utcnow
from core.workdays import work_calendar
from handlers import accounts
from handlers.profile import year_figures
from handlers.study import MemberWeek, check_in, study_day, study_record
from handlers.volunteer import hours_number
from models.org import ROLES, Member, mask_phone
from models.study import TOPIC_CATEGORIES, StudyCheckin, StudyTopic

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
    return shapes.Topic(
        id=t.id,
        day=day_text(t.day),
        title=t.title,
        category=t.category,
        category_label=TOPIC_CATEGORIES.get(t.category, t.category),
        content=t.content,
        url=t.url,
    )


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


def week_json(week: MemberWeek) -> shapes.Week:
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
    done = accounts.login(
        code,
        exchange=lambda c: auth.code_to_session(settings, c),
        address=client_address(),
        settings=settings,
        now=utcnow(),
    )
    answer = shapes.LoginResponse(
        token=auth.token_for(settings, done.session),
        expires_at=iso(done.session.expires_at),
        bound=done.member is not None,
    )
    if done.member is not None:
        answer.member = profile(done.member)
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
    bound = accounts.bind_account(session().openid, code, settings=_settings(), now=utcnow())
    return render(shapes.BindResponse(bound=True, member=profile(bound)))


@bp.get("/me")
@operation(
    "My profile, branch and roles, with my 学时 and volunteer hours this year",
    {200: (shapes.Me, "The member")},
    errors=("401", "403"),
)
def me() -> Response:
    found = member()
    figures = year_figures(found, now=utcnow(), settings=_settings())
    hours = figures.training
    training = None
    if hours is not None:
        training = shapes.MeTraining(
            year=hours.year,
            hours=hours.hours,
            required_hours=hours.required_hours,
            below=hours.below,
        )
    return render(
        shapes.Me(
            **profile(found).model_dump(),
            training=training,
            volunteer_hours=hours_number(figures.volunteer_minutes),
        )
    )


@bp.get("/study/today")
@operation(
    "Today's study topic and whether I checked in",
    {200: (shapes.StudyToday, "Today")},
    errors=("401", "403"),
)
def study_today() -> Response:
    max_age = _settings().study.topic_cache_seconds
    today = study_day(member(), now=utcnow(), tz=tz(), topic_max_age=max_age)
    return render(
        shapes.StudyToday(
            day=day_text(today.day), topic=topic_json(today.topic), checked_in=today.checked_in
        )
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
    settings = _settings()
    reflection = body(shapes.CheckinRequest).get("reflection", "")
    done = check_in(
        member(),
        reflection,
        now=utcnow(),
        tz=tz(),
        calendar=work_calendar(settings),
        max_chars=settings.study.reflection_max_chars,
        source="api",
        topic_max_age=settings.study.topic_cache_seconds,
    )
    answer = shapes.CheckinResponse(
        created=done.result.created,
        checkin=checkin_json(done.result.checkin),
        topic=topic_json(done.result.topic),
        week=week_json(done.week),
    )
    return render(answer), 201 if done.result.created else 200


@bp.get("/study/me")
@operation(
    "My week, streak, total and recent check-ins",
    {200: (shapes.StudyMe, "My study")},
    errors=("401", "403"),
)
def study_me() -> Response:
    settings = _settings()
    record = study_record(
        member(),
        now=utcnow(),
        tz=tz(),
        calendar=work_calendar(settings),
        recent=RECENT_CHECKINS,
        topic_max_age=settings.study.topic_cache_seconds,
    )
    return render(
        shapes.StudyMe(
            week=week_json(record.week), recent=[checkin_json(c) for c in record.recent]
        )
    )


@bp.get("/openapi.json")
@operation("This document", {200: (shapes.OpenApiDocument, "OpenAPI 3.1")}, public=True)
def openapi() -> Response:
    from api.openapi import document

    return jsonify(document())
