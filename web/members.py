"""The console's member pages: one member's record, printable binding codes, roster upload.

Binding codes are shown once, in the answer to the form that issued them (only a keyed hash is
stored, so there is nothing to redirect to). An uploaded roster waits in a private temporary
folder under a random token kept in the session until the manager confirms its preview (or it
expires); nothing is written before the confirmation.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
import time
from datetime import date
from typing import Any

import segno
from flask import make_response, redirect, request, session, url_for
from werkzeug.datastructures import FileStorage

from core.clock import utcnow
from handlers.binding import format_code
from handlers.branches import branch_acted_for
from handlers.console.members import (
    branch_codes,
    member_record,
    roster_import,
    roster_preview,
)
from handlers.console.pages import branch_members
from handlers.errors import DomainError, Forbidden, Invalid, NotFound
from handlers.membership import REASONS, leave_member, return_member, transfer_member
from handlers.roster import RosterError
from handlers.roster.codes import REFUSALS
from models.org import BRANCH_MANAGERS, STATUSES, mask_phone
from web.common import bp, page, settings, tz, user
from web.pages import MEMBERS_PER_PAGE

log = logging.getLogger(__name__)

ROSTER_KEY = "console_roster"  # the pending upload: token, uploader, file name, when
ROSTER_DONE = "console_roster_done"
ROSTER_TTL = 30 * 60  # seconds an uploaded roster waits for its confirmation
UPLOAD_DIR = "zhibu-roster-uploads"
UPLOAD_EXTENSIONS = (".xlsx", ".csv")
MULTIPART_SLACK = 64 * 1024  # the form's other fields and the multipart framing
PREVIEW_SHOWN = 200  # rows of each list the preview page shows
MEETING_STATES = {
    "present": "出席",
    "leave_approved": "请假（已批准）",
    "leave_pending": "请假（待审批）",
    "leave_rejected": "请假未获批准",
}


@bp.before_app_request
def _upload_limit() -> None:
    """Let a roster upload be as large as [imports] max_file_bytes (other requests keep
    app.max_body_bytes). Runs before the console's CSRF check, which reads the form."""
    if request.endpoint == "console.roster_upload" and request.method == "POST":
        request.max_content_length = settings().imports.max_file_bytes + MULTIPART_SLACK


@bp.errorhandler(413)
def _too_large(exc: Exception) -> tuple[str, int]:
    limit = settings().imports.max_file_bytes // (1024 * 1024)
    return page(
        "error.html",
        413,
        message=f"上传的内容过大：名册文件最大 {limit} MB（设置项 imports.max_file_bytes）。"
        "请分批导入。",
    )


# ---- one member ------------------------------------------------------------------------------


def _meeting_state(item: Any, now: Any) -> str:
    if item.my_state in MEETING_STATES:
        return MEETING_STATES[item.my_state]
    return "缺席" if item.meeting.ends_at <= now else "未开始"


def _detail_page(
    branch_id: int,
    member_id: int,
    *,
    form: str = "",
    values: dict[str, str] | None = None,
    error: str = "",
) -> Any:
    """The member's page; ``form`` names the form (leave, transfer, return) whose refusal it
    shows."""
    now = utcnow()
    record = member_record(user().member, branch_id, member_id, now=now, settings=settings())
    meetings = [(item, _meeting_state(item, now)) for item in record.meetings]
    attended = sum(1 for item in record.meetings if item.my_state == "present")
    held = sum(1 for item in record.meetings if item.meeting.ends_at <= now)
    return page(
        "member_detail.html",
        400 if error else 200,
        record=record,
        m=record.member,
        phone=record.phone,
        meetings=meetings,
        attended=attended,
        held=held,
        tz=tz(),
        reasons=REASONS,
        form=form,
        values=values or {},
        error=error,
    )


@bp.get("/branch/<int:branch_id>/members/<int:member_id>")
def member_detail(branch_id: int, member_id: int) -> Any:
    """A member's study weeks, this year's meetings and dues, transfers and departure, for the
    branch's managers; the committee admin also records a departure or a transfer here."""
    return _detail_page(branch_id, member_id)


def _form_day(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"请选择{label}（例如 2026-12-01）。", errcode="invalid_field") from None


@bp.post("/branch/<int:branch_id>/members/<int:member_id>/leave")
def member_leave(branch_id: int, member_id: int) -> Any:
    """办理离开 (the CLI's member leave, the API's POST …/leave), for the committee admin."""
    values = {k: (request.form.get(k) or "").strip() for k in ("reason", "left_on")}
    try:
        leave_member(
            user().member,
            member_id,
            reason=values["reason"],
            left_on=_form_day(values["left_on"], "离开日期"),
            now=utcnow(),
            settings=settings(),
            branch_id=branch_id,
        )
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        return _detail_page(branch_id, member_id, form="leave", values=values, error=exc.message)
    return redirect(
        url_for("console.member_detail", branch_id=branch_id, member_id=member_id), 303
    )


@bp.post("/branch/<int:branch_id>/members/<int:member_id>/transfer")
def member_transfer(branch_id: int, member_id: int) -> Any:
    """转接组织关系 to another branch of the committee, for the committee admin; the page
    follows the member to their new branch."""
    values = {k: (request.form.get(k) or "").strip() for k in ("to_branch", "moved_on")}
    try:
        if not values["to_branch"].isdigit() or len(values["to_branch"]) > 11:
            raise Invalid("请选择要转入的支部。", errcode="invalid_field")
        done = transfer_member(
            user().member,
            member_id,
            to_branch_id=int(values["to_branch"]),
            moved_on=_form_day(values["moved_on"], "转接日期"),
            now=utcnow(),
            settings=settings(),
            branch_id=branch_id,
        )
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        return _detail_page(
            branch_id, member_id, form="transfer", values=values, error=exc.message
        )
    target = url_for("console.member_detail", branch_id=done.to_branch.id, member_id=member_id)
    return redirect(target, 303)


@bp.post("/branch/<int:branch_id>/members/<int:member_id>/return")
def member_return(branch_id: int, member_id: int) -> Any:
    """办理转回 of a member who transferred out (the CLI's member return, the API's POST
    …/return), for the committee admin; the page follows the member to their branch."""
    fields = ("phone", "status", "to_branch", "returned_on")
    values = {k: (request.form.get(k) or "").strip() for k in fields}
    try:
        if not values["to_branch"].isdigit() or len(values["to_branch"]) > 11:
            raise Invalid("请选择转回的支部。", errcode="invalid_field")
        done = return_member(
            user().member,
            member_id,
            phone=values["phone"],
            status=values["status"] or "full",
            to_branch_id=int(values["to_branch"]),
            returned_on=_form_day(values["returned_on"], "转回日期"),
            now=utcnow(),
            settings=settings(),
            branch_id=branch_id,
        )
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        return _detail_page(branch_id, member_id, form="return", values=values, error=exc.message)
    target = url_for("console.member_detail", branch_id=done.to_branch.id, member_id=member_id)
    return redirect(target, 303)


# ---- binding codes ---------------------------------------------------------------------------


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) < 12]


def _members_with_error(branch_id: int, message: str) -> tuple[str, int]:
    """The member list again, with the codes form's refusal by its buttons."""
    view = branch_members(
        user().member, branch_id, status=None, bound=None, q="", limit=MEMBERS_PER_PAGE, offset=0
    )
    return page(
        "members.html",
        400,
        view=view,
        statuses=STATUSES,
        mask_phone=mask_phone,
        filters={"status": "", "bound": "", "q": ""},
        offset=0,
        per_page=MEMBERS_PER_PAGE,
        codes_error=message,
        chosen=set(_ids(request.form.getlist("member_id"))),
    )


def _qr(code: str) -> str:
    """The card's QR code: the very message to send, so any scanner shows what to type."""
    return segno.make(f"绑定 {format_code(code)}", error="m").svg_inline(scale=3, dark="#222")


@bp.post("/branch/<int:branch_id>/codes")
def member_codes(branch_id: int) -> Any:
    """Issue binding codes to the chosen members and answer with their printable cards."""
    all_unbound = request.form.get("scope") == "unbound"
    try:
        result = branch_codes(
            user().member,
            branch_id,
            _ids(request.form.getlist("member_id")),
            all_unbound=all_unbound,
            settings=settings(),
            now=utcnow(),
        )
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        return _members_with_error(branch_id, exc.message)
    zone = tz()
    cards = [
        {
            "name": item.member.name,
            "branch": result.branch.name,
            "code": format_code(item.code),
            "until": f"{item.expires_at.astimezone(zone):%Y-%m-%d %H:%M}",
            "qr": _qr(item.code),
        }
        for item in result.codes.issued
    ]
    html, status = page(
        "codes_print.html",
        branch=result.branch,
        cards=cards,
        refused=[(m, REFUSALS[reason]) for m, reason in result.codes.refused],
        skipped=result.skipped,
        days=settings().binding.code_ttl_days,
    )
    answer = make_response(html, status)
    answer.headers["Cache-Control"] = "no-store"  # working codes: never kept by the browser
    return answer


# ---- roster upload ---------------------------------------------------------------------------


def _upload_dir() -> str:
    path = os.path.join(tempfile.gettempdir(), UPLOAD_DIR)
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _upload_path(token: str, ext: str) -> str:
    return os.path.join(_upload_dir(), f"{token}{ext}")


def _sweep() -> None:
    """Delete uploads older than ROSTER_TTL (abandoned previews)."""
    folder = _upload_dir()
    cutoff = time.time() - ROSTER_TTL
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        try:
            if os.path.getmtime(path) < cutoff:
                os.unlink(path)
        except OSError:
            continue


def _pending() -> dict[str, Any] | None:
    """The manager's uploaded roster waiting for confirmation, if its file is still there."""
    found = session.get(ROSTER_KEY)
    if not isinstance(found, dict) or found.get("member") != user().member.id:
        return None
    token, ext = str(found.get("token", "")), found.get("ext")
    if not token.isalnum() or ext not in UPLOAD_EXTENSIONS:
        return None
    path = _upload_path(token, ext)
    if time.time() - float(found.get("at", 0)) > ROSTER_TTL or not os.path.isfile(path):
        return None
    return {**found, "path": path}


def _discard() -> None:
    """Forget the pending upload and delete its file."""
    found = session.pop(ROSTER_KEY, None)
    if isinstance(found, dict):
        token, ext = str(found.get("token", "")), found.get("ext")
        if token.isalnum() and ext in UPLOAD_EXTENSIONS:
            with contextlib.suppress(OSError):  # already gone: nothing to delete
                os.unlink(_upload_path(token, ext))


def _upload_form(branch_id: int, error: str = "", errors: list[str] | None = None) -> Any:
    branch = branch_acted_for(user().member, branch_id, BRANCH_MANAGERS)
    config = settings()
    return page(
        "roster_upload.html",
        400 if error or errors else 200,
        branch=branch,
        error=error,
        errors=errors or [],
        max_mb=config.imports.max_file_bytes // (1024 * 1024),
        max_rows=config.imports.max_rows,
    )


def _saved(upload: FileStorage) -> str:
    """Save the upload under a new token; return the token (the extension is checked)."""
    ext = os.path.splitext(upload.filename or "")[1].lower()
    token = secrets.token_hex(16)
    path = _upload_path(token, ext)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        upload.save(fh)
    return token


@bp.route("/branch/<int:branch_id>/roster", methods=["GET", "POST"])
def roster_upload(branch_id: int) -> Any:
    """Upload a roster (.xlsx, .csv); it is checked and previewed, not imported yet."""
    if request.method == "GET":
        return _upload_form(branch_id)
    branch_acted_for(user().member, branch_id, BRANCH_MANAGERS)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_form(branch_id, "请选择要上传的名册文件（.xlsx 或 .csv）。")
    ext = os.path.splitext(upload.filename)[1].lower()
    if ext not in UPLOAD_EXTENSIONS:
        return _upload_form(
            branch_id, f"不支持“{ext or upload.filename}”文件，请上传 .xlsx 或 .csv。"
        )
    _discard()
    _sweep()
    session[ROSTER_KEY] = {
        "token": _saved(upload),
        "ext": ext,
        "name": os.path.basename(upload.filename)[:100],
        "member": user().member.id,
        "at": time.time(),
    }
    return redirect(url_for("console.roster_check", branch_id=branch_id))


@bp.get("/branch/<int:branch_id>/roster/preview")
def roster_check(branch_id: int) -> Any:
    """What the uploaded roster would change; nothing is written until it is confirmed."""
    pending = _pending()
    if pending is None:
        return _upload_form(branch_id, "没有待确认的名册，或已超过 30 分钟，请重新上传。")
    try:
        preview = roster_preview(
            user().member, branch_id, pending["path"], settings=settings(), now=utcnow()
        )
    except RosterError as exc:
        _discard()
        return _upload_form(branch_id, errors=[e.message for e in exc.errors])
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        _discard()
        return _upload_form(branch_id, exc.message)
    return page(
        "roster_preview.html",
        branch_id=branch_id,
        preview=preview,
        file_name=pending["name"],
        token=pending["token"],
        shown=PREVIEW_SHOWN,
        mask_phone=mask_phone,
    )


@bp.post("/branch/<int:branch_id>/roster/confirm")
def roster_confirm(branch_id: int) -> Any:
    """Import the previewed roster (checked again: any bad row still writes nothing)."""
    pending = _pending()
    if pending is None or request.form.get("token") != pending["token"]:
        return _upload_form(branch_id, "没有待确认的名册，或已超过 30 分钟，请重新上传。")
    try:
        report = roster_import(
            user().member, branch_id, pending["path"], settings=settings(), now=utcnow()
        )
    except RosterError as exc:
        return _upload_form(branch_id, errors=[e.message for e in exc.errors])
    except (Forbidden, NotFound):
        raise
    except DomainError as exc:
        return _upload_form(branch_id, exc.message)
    finally:
        _discard()
    session[ROSTER_DONE] = {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "branches": report.branches_created,
        "groups": report.groups_created,
        "dues": report.dues_set,
    }
    return redirect(url_for("console.roster_done", branch_id=branch_id))


@bp.get("/branch/<int:branch_id>/roster/done")
def roster_done(branch_id: int) -> Any:
    branch = branch_acted_for(user().member, branch_id, BRANCH_MANAGERS)
    report = session.pop(ROSTER_DONE, None)
    if not isinstance(report, dict):
        return redirect(url_for("console.members", branch_id=branch_id))
    return page("roster_done.html", branch=branch, report=report)
