"""What every console view shares: the blueprint, the logged-in manager, CSRF, error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from core.clock import local_day, utcnow
from core.config import Settings
from core.doors import DOOR
from handlers.console.access import ConsoleUser, session_user
from handlers.dues import fen_to_text
from handlers.errors import DomainError, Forbidden, NotFound
from models.org import ROLES

log = logging.getLogger(__name__)

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

SESSION_KEY = "console_sid"
# Endpoints open without a session: the login pages and the static files.
PUBLIC = frozenset(
    {
        "console.static",
        "console.login",
        "console.login_status",
        "console.login_link",
        "console.report_by_link",  # a signed, expiring link sent to committee admins
    }
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def settings() -> Settings:
    from flask import current_app

    return current_app.config["ZHIBU"]


def tz() -> ZoneInfo:
    return ZoneInfo(settings().app.timezone)


def user() -> ConsoleUser:
    """The manager using the console (set for every non-public view)."""
    return g.console_user


@bp.before_request
def _guard() -> Response | None:
    """Check the CSRF token of every form, then find the manager behind the session cookie."""
    from web import csrf

    g.console_door = DOOR.set("console")  # the audit log records changes as the console's
    if request.method not in SAFE_METHODS:
        csrf.protect()
    if request.endpoint in PUBLIC:
        return None
    sid = session.get(SESSION_KEY)
    found = session_user(sid, settings=settings(), now=utcnow()) if sid else None
    if found is None:
        session.pop(SESSION_KEY, None)
        if request.headers.get("HX-Request"):  # htmx: send the whole page to the login
            answer = Response(status=204)
            answer.headers["HX-Redirect"] = url_for("console.login")
            return answer
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    g.console_user = found
    return None


@bp.teardown_request
def _door_closed(exc: BaseException | None) -> None:
    token = g.pop("console_door", None)
    if token is not None:
        DOOR.reset(token)


# Whether a menu entry is shown to the manager for the branch viewed (its id).
Shown = Callable[[ConsoleUser, int], bool]
# The branch pages' menu: (order, label, endpoint taking branch_id, whom it is shown to: None
# for every console user), added by each page module.
NAV: list[tuple[int, str, str, Shown | None]] = []


def _within(here: str | None, endpoint: str) -> bool:
    """Whether the page ``here`` belongs to the menu entry (console.dues_payments to
    console.dues); the home entry (console.branch) only to itself."""
    if here is None:
        return False
    return here == endpoint or (endpoint != "console.branch" and here.startswith(endpoint + "_"))


def nav_item(order: int, label: str, endpoint: str, shown: Shown | None = None) -> None:
    """Add a page of a branch to the menu (its endpoint takes ``branch_id``); ``shown`` says
    whom it is shown to, when the page refuses some console users (else it is shown to all)."""
    NAV.append((order, label, endpoint, shown))
    NAV.sort(key=lambda item: item[:3])


@bp.app_context_processor
def _context() -> dict[str, Any]:
    """The manager, and the menu for the branch being viewed (else their own)."""
    me = g.get("console_user")
    if me is None:
        return {"me": None, "nav": []}
    branch_id = (request.view_args or {}).get("branch_id", me.branch.id)
    here = request.endpoint
    nav = [
        (label, url_for(endpoint, branch_id=branch_id), _within(here, endpoint))
        for _, label, endpoint, shown in NAV
        if shown is None or shown(me, branch_id)
    ]
    return {"me": me, "nav": nav}


@bp.app_template_filter("fen")
def _fen(value: int) -> str:
    return fen_to_text(value)


@bp.app_template_filter("local_day")
def _local_day(moment: datetime) -> str:
    day = local_day(moment, tz())
    return f"{day:%Y-%m-%d}"


@bp.app_template_filter("local_time")
def _local_time(moment: datetime) -> str:
    return f"{moment.astimezone(tz()):%m-%d %H:%M}"


@bp.app_template_filter("role_labels")
def _role_labels(roles: frozenset[str]) -> str:
    return "、".join(ROLES.get(r, r) for r in sorted(roles))


def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    """Render a console page."""
    return render_template(template, **values), status


@bp.errorhandler(DomainError)
def _refused(exc: DomainError) -> tuple[str, int]:
    """A handler's refusal as a page with its message (forms show it by the field)."""
    status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else 400
    return page("error.html", status, message=exc.message)


@bp.errorhandler(CSRFError)
def _csrf(exc: CSRFError) -> tuple[str, int]:
    log.info("console form refused: %s", exc.description)
    return page("error.html", 400, message="页面已过期，请刷新页面后重新操作。")


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Any:
    if exc.code == 404:
        return page("error.html", 404, message="没有这个页面。")
    if exc.code == 405:
        return page("error.html", 405, message="不支持这样访问这个页面。")
    return exc
