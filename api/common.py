"""Plumbing shared by every /api/v1 module: the blueprint, bodies, queries, sessions, scopes.

A route module (api/v1.py, api/meetings.py, ...) registers its views on ``bp``, reads its input
with ``body`` and ``query`` against the models of api.shapes, and declares each route for the
OpenAPI document with api.openapi.operation.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.routing import BaseConverter

from api import auth, shapes
from api.errors import ApiError, handle
from api.shapes import INT_MAX
from core.config import Settings
from core.doors import DOOR
from models.api import ApiSession
from models.org import Member

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
bp.register_error_handler(Exception, handle)


@bp.before_request
def _door() -> None:
    """The audit log records the mini-program's changes as the API's."""
    g.api_door = DOOR.set("api")


@bp.teardown_request
def _door_closed(exc: BaseException | None) -> None:
    token = g.pop("api_door", None)
    if token is not None:
        DOOR.reset(token)


NOT_BOUND = "您的微信尚未绑定党员信息，请先使用支部书记发给您的绑定码完成绑定。"

# Pagination: ?limit= (1..api.shapes.MAX_LIMIT, default DEFAULT_LIMIT) and ?offset= (0..).
DEFAULT_LIMIT = 20


def _context(*, from_query: bool) -> dict[str, Any]:
    return {"settings": settings(), "query": from_query}


def check_value(kind: Any, name: str, value: Any) -> Any:
    """One value of a body (an item of a list) against a type of api.shapes; a refusal names
    ``name``."""
    return shapes.check_value(kind, name, value, _context(from_query=False))


def settings() -> Settings:
    return current_app.config["ZHIBU"]


def tz() -> ZoneInfo:
    return ZoneInfo(settings().app.timezone)


def iso(at: datetime | None) -> str | None:
    """An aware time as ISO 8601 in the app's zone (+08:00 by default), to the second."""
    return at.astimezone(tz()).isoformat(timespec="seconds") if at else None


def day_text(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python's json would take them


def _depth(value: Any, limit: int) -> int:
    """How deep a parsed JSON value nests (a scalar 0, [] or {} 1), counted up to limit + 1."""
    deepest, stack = 0, [(value, 1)]
    while stack and deepest <= limit:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack += [
                (child, level + 1) for child in (node.values() if isinstance(node, dict) else node)
            ]
    return deepest


def json_body() -> Any:
    """The request's JSON body, parsed; an empty body is {}.

    A body whose Content-Type is not JSON answers 415; without a Content-Type it is read as
    JSON. JSON that does not parse, or nests deeper than api.max_json_depth, answers 400.
    """
    raw = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH, before parsing
    if not raw:
        return {}
    if request.mimetype and not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "请求内容须为 JSON（Content-Type: application/json）。"
        )
    limit = settings().api.max_json_depth
    too_deep = ApiError(400, "invalid_json", f"请求内容的 JSON 嵌套过深，最多 {limit} 层。")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:  # far deeper than any limit: the parser gave up first
        raise too_deep from None
    except ValueError:  # not JSON, not UTF-8, or an integer of thousands of digits
        raise ApiError(400, "invalid_json", "请求内容不是有效的 JSON。") from None
    if _depth(data, limit) > limit:
        raise too_deep
    return data


def body(shape: type[shapes.Request] = shapes.Request) -> dict[str, Any]:
    """Read the JSON object body against its shape (a model of api.shapes; none: no fields):
    known fields only, each checked, named in any refusal. Answers the fields given (a null
    is taken as absent), converted."""
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "请求内容须为 JSON 对象。")
    for name in data:
        if name not in shape.model_fields:
            raise shapes.unknown(name, from_query=False)
    given = {name: value for name, value in data.items() if value is not None}
    return shapes.check(shape, given, _context(from_query=False))


def query(shape: type[shapes.Request] = shapes.Request) -> dict[str, Any]:
    """Read the query string like ``body``: known parameters only, each checked; an empty
    one is taken as absent."""
    for name in request.args:
        if name not in shape.model_fields:
            raise shapes.unknown(name, from_query=True)
        if len(request.args.getlist(name)) > 1:
            raise shapes.invalid(name, "只能出现一次。")
    given = {name: value for name, value in request.args.items() if value != ""}
    return shapes.check(shape, given, _context(from_query=True))


def render(answer: shapes.Answer) -> Response:
    """An answer as JSON; optional fields not set are left out (LoginResponse's member)."""
    return jsonify(answer.model_dump(mode="json", exclude_unset=True))


def render_as(shape: type[shapes.Answer], data: dict[str, Any]) -> Response:
    """An answer built as a dict, held to its model first."""
    return render(shape.model_validate(data))


def client_address() -> str:
    return request.remote_addr or "unknown"


class IdConverter(BaseConverter):
    """``<id:name>``: a path id as any signed run of digits, so ``-1`` or ``2**64`` reach the
    range check in ``_guard`` (400 naming the parameter) instead of a 404 or an overflow."""

    regex = r"-?\d+"
    part_isolating = True

    def to_python(self, value: str) -> int:
        if len(value) > 12:  # past any id (and int() refuses 4,300 digits and more)
            return -INT_MAX - 1 if value.startswith("-") else INT_MAX + 1
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


def session() -> ApiSession:
    """The caller's live session from ``Authorization: Bearer <token>``, or 401."""
    if "api_session" not in g:
        from core.clock import utcnow

        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "请先登录。")
        g.api_session = auth.check_token(settings(), token.strip(), utcnow())
    return g.api_session


def member() -> Member:
    """The bound member behind the caller's session, or 403 telling them to bind first."""
    if "api_member" not in g:
        found = auth.mini_member(session().openid)
        if found is None:
            raise ApiError(403, "not_bound", NOT_BOUND)
        g.api_member = found
    return g.api_member
