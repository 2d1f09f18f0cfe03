"""Plumbing shared by every /api/v1 module: the blueprint, bodies, queries, sessions, scopes.

A route module (api/v1.py, api/meetings.py, ...) registers its views on ``bp`` and exports
``SCHEMAS`` and ``PATHS`` for the OpenAPI document (api/openapi.py merges them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, request

from api import auth
from api.errors import ApiError, handle
from models.api import ApiSession
from models.org import Branch, Member

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
bp.register_error_handler(Exception, handle)

NOT_BOUND = "您的微信尚未绑定党员信息，请先使用支部书记发给您的绑定码完成绑定。"
FORBIDDEN = "没有权限进行此操作。"
NOT_FOUND = "请求的资源不存在，或您无权查看。"

# Pagination: ?limit= (1..MAX_LIMIT, default DEFAULT_LIMIT) and ?offset= (0..).
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000

KINDS = ("str", "int", "bool", "time", "day", "month", "ids", "raw")
_MONTH = re.compile(r"^\d{4}-\d{2}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)$")


@dataclass(frozen=True)
class Field:
    """One accepted body or query field.

    kind: ``str`` (at most ``max_len`` characters; ``choices`` limits the values), ``int``
    (``minimum``..``maximum``), ``bool``, ``time`` (ISO 8601 with an offset → aware datetime),
    ``day`` (YYYY-MM-DD → date), ``month`` (YYYY-MM → the month's first day), ``ids`` (a list
    of at most ``max_len`` positive integers), ``raw`` (any JSON value, checked by the
    caller: lists of months, of template ids).
    """

    required: bool = True
    max_len: int = 128
    kind: str = "str"
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")


def settings() -> dict[str, dict[str, Any]]:
    return current_app.config["ZHIBU"]


def tz() -> ZoneInfo:
    return ZoneInfo(settings()["app"]["timezone"])


def iso(at: datetime | None) -> str | None:
    """An aware time as ISO 8601 in the app's zone (+08:00 by default), to the second."""
    return at.astimezone(tz()).isoformat(timespec="seconds") if at else None


def day_text(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _invalid(name: str, what: str) -> ApiError:
    return ApiError(400, "invalid_field", f"字段 {name} {what}")


def _convert(name: str, spec: Field, value: Any, *, from_query: bool) -> Any:
    """Check one present value against its spec; return it converted."""
    kind = spec.kind
    if kind == "raw":
        return value
    if kind == "int":
        if from_query and isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(name, "应为整数。")
        if spec.minimum is not None and value < spec.minimum:
            raise _invalid(name, f"不能小于 {spec.minimum}。")
        if spec.maximum is not None and value > spec.maximum:
            raise _invalid(name, f"不能大于 {spec.maximum}。")
        return value
    if kind == "bool":
        if from_query and value in ("true", "false"):
            return value == "true"
        if not isinstance(value, bool):
            raise _invalid(name, "应为 true 或 false。")
        return value
    if kind == "ids":
        if not isinstance(value, list) or not value:
            raise _invalid(name, "应为非空的整数列表。")
        if len(value) > spec.max_len:
            raise _invalid(name, f"最多 {spec.max_len} 项，当前 {len(value)} 项。")
        if any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value):
            raise _invalid(name, "应为正整数列表。")
        return list(dict.fromkeys(value))
    if not isinstance(value, str):
        raise _invalid(name, "应为字符串。")
    if kind == "str":
        if spec.required and not value.strip():
            raise _invalid(name, "不能为空。")
        if len(value) > spec.max_len:
            raise _invalid(name, f"最多 {spec.max_len} 字，当前 {len(value)} 字。")
        if spec.choices is not None and value not in spec.choices:
            raise _invalid(name, "应为以下之一：" + "、".join(spec.choices) + "。")
        return value
    if kind == "time":
        if not _TIME.match(value):
            raise _invalid(name, "应为带时区的 ISO 8601 时间，例如 2026-12-01T14:30:00+08:00。")
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(name, "不是有效的时间。") from None
    if kind == "day":
        if not _DAY.match(value):
            raise _invalid(name, "应为日期，例如 2026-12-01。")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _invalid(name, "不是有效的日期。") from None
    # month
    if not _MONTH.match(value):
        raise _invalid(name, "应为月份，例如 2026-12。")
    try:
        return date.fromisoformat(value + "-01")
    except ValueError:
        raise _invalid(name, "不是有效的月份。") from None


def body(fields: Mapping[str, Field]) -> dict[str, Any]:
    """Read the JSON object body: known fields only, each checked, named in any refusal."""
    raw = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH, before parsing
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "invalid_json", "请求内容须为 JSON 对象。") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "请求内容须为 JSON 对象。")
    for name in data:
        if name not in fields:
            raise ApiError(400, "unknown_field", f"不支持的字段：{name}")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        value = data.get(name)
        if value is None:
            if spec.required:
                raise ApiError(400, "missing_field", f"缺少字段：{name}")
            continue
        out[name] = _convert(name, spec, value, from_query=False)
    return out


def query(fields: Mapping[str, Field]) -> dict[str, Any]:
    """Read the query string like ``body``: known parameters only, each checked."""
    for name in request.args:
        if name not in fields:
            raise ApiError(400, "unknown_field", f"不支持的参数：{name}")
        if len(request.args.getlist(name)) > 1:
            raise _invalid(name, "只能出现一次。")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        value = request.args.get(name)
        if value is None or value == "":
            if spec.required:
                raise ApiError(400, "missing_field", f"缺少参数：{name}")
            continue
        out[name] = _convert(name, spec, value, from_query=True)
    return out


PAGE_FIELDS: dict[str, Field] = {
    "limit": Field(required=False, kind="int", minimum=1, maximum=MAX_LIMIT),
    "offset": Field(required=False, kind="int", minimum=0, maximum=MAX_OFFSET),
}


def paginate(select: Any, args: Mapping[str, Any], render: Any) -> dict[str, Any]:
    """Page a peewee query (already ordered) with the limit/offset in ``args``.

    Answers {"items": [...], "total": n, "limit": l, "offset": o}.
    """
    limit = args.get("limit", DEFAULT_LIMIT)
    offset = args.get("offset", 0)
    total = select.count()
    items = [render(row) for row in select.limit(limit).offset(offset)]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def client_address() -> str:
    return request.remote_addr or "unknown"


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


def branch_for(actor: Member, branch_id: int | None, roles: tuple[str, ...]) -> Branch:
    """The branch a manager acts for: their own, or ``branch_id`` if they may act for it.

    A branch the caller may not act for answers 403; an unknown id answers 403 too, so the
    answer does not tell whether it exists.
    """
    from models.org import acts_for

    if branch_id is None or branch_id == actor.branch_id:
        branch = actor.branch
    else:
        branch = Branch.get_or_none(Branch.id == branch_id)
        if branch is None:
            raise ApiError(403, "forbidden", FORBIDDEN)
    if not acts_for(actor, branch, roles):
        raise ApiError(403, "forbidden", FORBIDDEN)
    return branch


def not_found() -> ApiError:
    return ApiError(404, "not_found", NOT_FOUND)
