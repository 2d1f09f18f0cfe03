"""The console's meeting pages: the list and the month, scheduling, a meeting's attendance,
leave and minutes, and the sign-in page for a projector.

Each view calls the use case the bot and the mini-program call (handlers.meetings), or the
console's composition of them (handlers.console.meetings), and renders its answer; a refusal
of a form is shown by its field, with what was typed.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import segno
from flask import redirect, request, url_for
from werkzeug.exceptions import NotFound as PageNotFound

from bot.clients import WeChatApiError, create_meeting_qr
from core.clock import local_day, utcnow
from handlers import meetings as h
from handlers.console import meetings as cm
from handlers.errors import DomainError, Forbidden, NotFound
from models.meetings import KINDS
from web.common import bp, nav_item, page, settings, tz, user

log = logging.getLogger(__name__)

nav_item(30, "会议", "console.meetings")

STATUS_LABELS = {"scheduled": "已安排", "cancelled": "已取消"}
WEEKDAY_LABELS = "一二三四五六日"
POLL_SECONDS = 3
TEXT_MAX = 200  # place and title, as the handlers keep them


def _by_field(exc: DomainError) -> str:
    """A refusal's message to show by its field; who may not see or do it gets the error page."""
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    return exc.message


def _to(endpoint: str, **values: Any) -> Any:
    """Redirect after a successful form (303: the browser follows with a GET)."""
    return redirect(url_for(endpoint, **values), code=303)


def _when_text(meeting: Any) -> str:
    """A meeting's time as the form shows it, in words the time field reads back."""
    start, end = meeting.starts_at.astimezone(tz()), meeting.ends_at.astimezone(tz())
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}"


def _shown(meeting: Any) -> str:
    """A meeting's time as pages show it: 12月3日（周四）15:00–16:30."""
    return f"{h.day_hm(meeting.starts_at, tz())}–{h.hm(meeting.ends_at, tz())}"


def _common() -> dict[str, Any]:
    return {
        "kinds": KINDS,
        "status_labels": STATUS_LABELS,
        "shown": _shown,
        "hm": h.hm,
        "tz": tz(),
    }


# ---- the list and the month ----------------------------------------------------------------


@bp.get("/branch/<int:branch_id>/meetings")
def meetings(branch_id: int) -> Any:
    view = cm.branch_meetings(user().member, branch_id, now=utcnow())
    return page("meetings.html", view=view, today=local_day(utcnow(), tz()), **_common())


def _month(text: str | None) -> date:
    """The month of ?month=YYYY-MM (this month if absent); a malformed one is not a page."""
    if not text:
        return local_day(utcnow(), tz()).replace(day=1)
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise PageNotFound() from None


def _shift(first: date, months: int) -> str:
    index = first.year * 12 + first.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@bp.get("/branch/<int:branch_id>/meetings/month")
def meetings_month(branch_id: int) -> Any:
    first = _month(request.args.get("month"))
    view = cm.month_meetings(user().member, branch_id, first, settings=settings())
    return page(
        "meetings_month.html",
        view=view,
        previous=_shift(first, -1),
        following=_shift(first, 1),
        weekdays=WEEKDAY_LABELS,
        today=local_day(utcnow(), tz()),
        **_common(),
    )


# ---- schedule, edit, cancel ----------------------------------------------------------------


def _form_values() -> dict[str, str]:
    form = request.form
    return {
        "kind": form.get("kind", ""),
        "when": form.get("when", "").strip(),
        "place": form.get("place", "").strip()[:TEXT_MAX],
        "title": form.get("title", "").strip()[:TEXT_MAX],
        "group_id": form.get("group_id", ""),
        "original_when": form.get("original_when", ""),
    }


def _group_id(text: str) -> int | None:
    return int(text) if text.isdigit() else None


@bp.route("/branch/<int:branch_id>/meetings/new", methods=["GET", "POST"])
def meeting_new(branch_id: int) -> Any:
    me = user().member
    form = cm.meeting_form(me, branch_id)
    if request.method == "GET":
        values = {"kind": "general", "when": "", "place": "", "title": "", "group_id": ""}
        return page("meetings_form.html", form=form, values=values, error="", **_common())
    values = _form_values()
    try:
        done = cm.schedule_by_form(
            me,
            branch_id,
            kind=values["kind"],
            when_text=values["when"],
            place=values["place"],
            title=values["title"],
            group_id=_group_id(values["group_id"]),
            now=utcnow(),
            settings=settings(),
        )
    except DomainError as exc:
        return page(
            "meetings_form.html", 400, form=form, values=values, error=_by_field(exc), **_common()
        )
    meeting = done.summary.meeting
    return _to("console.meeting", branch_id=branch_id, meeting_id=meeting.id)


@bp.route("/branch/<int:branch_id>/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
def meeting_edit(branch_id: int, meeting_id: int) -> Any:
    me = user().member
    form = cm.meeting_form(me, branch_id, meeting_id)
    meeting = form.meeting
    if request.method == "GET":
        values = {
            "kind": meeting.kind,
            "when": _when_text(meeting),
            "original_when": _when_text(meeting),
            "place": meeting.place,
            "title": meeting.title,
            "group_id": str(meeting.party_group_id or ""),
        }
        return page("meetings_form.html", form=form, values=values, error="", **_common())
    values = _form_values()
    changed = values["when"] != values["original_when"]  # an unchanged time is not sent
    try:
        cm.change_by_form(
            me,
            branch_id,
            meeting_id,
            when_text=values["when"] if changed else None,
            place=values["place"],
            title=values["title"],
            now=utcnow(),
            settings=settings(),
        )
    except DomainError as exc:
        values["kind"] = meeting.kind
        return page(
            "meetings_form.html", 400, form=form, values=values, error=_by_field(exc), **_common()
        )
    return _to("console.meeting", branch_id=branch_id, meeting_id=meeting_id)


@bp.route("/branch/<int:branch_id>/meetings/<int:meeting_id>/cancel", methods=["GET", "POST"])
def meeting_cancel(branch_id: int, meeting_id: int) -> Any:
    """A confirmation page; its form cancels the meeting (attendance recorded stays)."""
    me = user().member
    form = cm.meeting_form(me, branch_id, meeting_id)
    if request.method == "GET":
        return page("meetings_cancel.html", form=form, **_common())
    h.call_off_meeting(me, meeting_id, now=utcnow(), settings=settings())
    return _to("console.meeting", branch_id=branch_id, meeting_id=meeting_id)


# ---- one meeting: attendance, 补签, leave, minutes ------------------------------------------


def _meeting_page(
    branch_id: int, meeting_id: int, status: int = 200, **extra: Any
) -> tuple[str, int]:
    view = cm.meeting_page(user().member, branch_id, meeting_id, now=utcnow(), settings=settings())
    meeting = view.detail.summary.meeting
    values = {"minutes": meeting.minutes, "decisions": meeting.decisions}
    values.update(extra.pop("values", {}))
    limits = settings().meetings
    return page(
        "meetings_detail.html",
        status,
        view=view,
        meeting=meeting,
        report=view.sheet.report,
        values=values,
        errors=extra.pop("errors", {}),
        markable=utcnow() >= view.detail.opens,  # 补签 once sign-in has opened
        minutes_max=limits.minutes_max_chars,
        decisions_max=limits.decisions_max_chars,
        **extra,
        **_common(),
    )


@bp.get("/branch/<int:branch_id>/meetings/<int:meeting_id>")
def meeting(branch_id: int, meeting_id: int) -> Any:
    return _meeting_page(branch_id, meeting_id)


@bp.post("/branch/<int:branch_id>/meetings/<int:meeting_id>/present")
def meeting_mark(branch_id: int, meeting_id: int) -> Any:
    """补签: record a member present by hand (the bot's 补签, by member id)."""
    member_id = request.form.get("member_id", "")
    if not member_id.isdigit():
        return _meeting_page(branch_id, meeting_id, 400, errors={"mark": "请选择要补签的党员。"})
    try:
        h.record_present_by_hand(
            user().member, meeting_id, [int(member_id)], now=utcnow(), settings=settings()
        )
    except DomainError as exc:
        return _meeting_page(branch_id, meeting_id, 400, errors={"mark": _by_field(exc)})
    return _to("console.meeting", branch_id=branch_id, meeting_id=meeting_id)


@bp.post("/branch/<int:branch_id>/meetings/<int:meeting_id>/leaves/<int:leave_id>")
def meeting_leave(branch_id: int, meeting_id: int, leave_id: int) -> Any:
    """Approve or reject a pending leave request (the bot's 批准请假 / 驳回请假)."""
    approve = request.form.get("decision") == "approve"
    try:
        h.decide_leave_request(user().member, leave_id, approve, now=utcnow(), settings=settings())
    except DomainError as exc:
        return _meeting_page(branch_id, meeting_id, 400, errors={"leave": _by_field(exc)})
    return _to("console.meeting", branch_id=branch_id, meeting_id=meeting_id)


@bp.post("/branch/<int:branch_id>/meetings/<int:meeting_id>/minutes")
def meeting_minutes(branch_id: int, meeting_id: int) -> Any:
    """Record the minutes (纪要) and decisions (决议); a refusal names the field."""
    values = {
        "minutes": request.form.get("minutes", ""),
        "decisions": request.form.get("decisions", ""),
    }
    try:
        h.record_minutes(user().member, meeting_id, now=utcnow(), settings=settings(), **values)
    except DomainError as exc:
        message = _by_field(exc)
        labels = h.RECORD_FIELDS.items()
        field = next((f for f, label in labels if message.startswith(label)), "minutes")
        return _meeting_page(branch_id, meeting_id, 400, values=values, errors={field: message})
    return _to("console.meeting", branch_id=branch_id, meeting_id=meeting_id, saved="minutes")


# ---- sign-in, for a projector ---------------------------------------------------------------


def _qr_svg(opened: h.SigninCode, made: list[Any]) -> str:
    """The meeting's sign-in QR code as inline SVG, drawn here from the URL it encodes.

    The URL comes with a code WeChat makes; one made earlier (by the meeting_qr job) is
    stored without it, so a code for the same scene is asked for to draw (scans carry the
    scene, so every code of it signs in to this meeting).
    """
    content = made[0].content_url if made else ""
    meeting = opened.summary.meeting
    if not content:
        config = settings()
        try:
            lifetime = h.qr_lifetime(meeting, utcnow(), config)
            content = create_meeting_qr(config, meeting.qr_scene, lifetime).content_url
        except (WeChatApiError, OSError, ValueError) as exc:
            log.warning("sign-in QR of meeting %s not drawn: %s", meeting.id, exc)
            return ""
    return segno.make(content, error="m").svg_inline(scale=8, dark="#222") if content else ""


@bp.get("/branch/<int:branch_id>/meetings/<int:meeting_id>/signin")
def meeting_signin(branch_id: int, meeting_id: int) -> Any:
    """Open sign-in (开始签到; the same code every time) and show the code, the QR code and
    who has signed in, for a projector."""
    config = settings()
    made: list[Any] = []

    def create(scene: str, seconds: int) -> Any:
        made.append(create_meeting_qr(config, scene, seconds))
        return made[-1]

    sheet = cm.meeting_sheet(user().member, branch_id, meeting_id, now=utcnow())
    opened = h.start_signin(
        user().member,
        meeting_id,
        now=utcnow(),
        settings=config,
        create=create,
        qr_failures=(WeChatApiError, OSError, ValueError),
    )
    return page(
        "meetings_signin.html",
        opened=opened,
        meeting=opened.summary.meeting,
        sheet=sheet,
        report=sheet.report,
        qr_svg=_qr_svg(opened, made),
        poll=POLL_SECONDS,
        **_common(),
    )


@bp.get("/branch/<int:branch_id>/meetings/<int:meeting_id>/signin/attendance")
def meeting_signin_attendance(branch_id: int, meeting_id: int) -> Any:
    """Who has signed in, on leave or not yet: polled by the sign-in page."""
    sheet = cm.meeting_sheet(user().member, branch_id, meeting_id, now=utcnow())
    return page("meetings_attendance.html", report=sheet.report, meeting=sheet.summary.meeting)
