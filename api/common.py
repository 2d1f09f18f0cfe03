"""Plumbing shared by every /api/v1 module: the blueprint, bodies, queries, sessions, scopes.

A route module (api/v1.py, api/meetings.py, ...) registers its views on ``bp`` and exports
``SCHEMAS`` and ``PATHS`` for the OpenAPI document (api/openapi.py merges them).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, request
from werkzeug.routing import BaseConverter

from api import auth
from api.errors import ApiError, handle
from core.config import Settings
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
_MONTH = re.compile(r"\d{4}-\d{2}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)")
# Integers the database stores (ids, counts, amounts in fen): PostgreSQL's integer.
INT_MAX = 2**31 - 1
# Characters no text field takes: C0 and C1 controls, DEL, the Unicode line and paragraph
# separators and lone surrogates (which no encoding can store). Multi-line fields keep \n.
_ONE_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


@dataclass(frozen=True)
class Field:
    """One accepted body or query field.

    kind: ``str`` (at most ``max_len`` characters; ``choices`` limits the values; one line
    unless ``multiline``, which allows line breaks), ``int`` (``minimum``..``maximum``, within
    ±INT_MAX), ``bool``, ``time`` (ISO 8601 with an offset → aware datetime), ``day``
    (YYYY-MM-DD → date), ``month`` (YYYY-MM → the month's first day), ``ids`` (a list of at
    most ``max_len`` integers from 1 to INT_MAX), ``raw`` (any JSON value, checked by the
    caller: lists of months, of template ids; its strings are held to the one-line rule).
    Times, days and months fall within api.earliest_year..api.latest_year. No text takes
    control characters or lone surrogates.
    """

    required: bool = True
    max_len: int = 128
    kind: str = "str"
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None
    multiline: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")


def settings() -> Settings:
    return current_app.config["ZHIBU"]


def tz() -> ZoneInfo:
    return ZoneInfo(settings().app.timezone)


def iso(at: datetime | None) -> str | None:
    """An aware time as ISO 8601 in the app's zone (+08:00 by default), to the second."""
    return at.astimezone(tz()).isoformat(timespec="seconds") if at else None


def day_text(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _invalid(name: str, what: str) -> ApiError:
    return ApiError(400, "invalid_field", f"字段 {name} {what}")


def text_problem(text: str, *, multiline: bool = False) -> str | None:
    """What is wrong with a text's characters (for "字段 X …"), or None if nothing."""
    found = (_MULTI_LINE_BAD if multiline else _ONE_LINE_BAD).search(text)
    if found is None:
        return None
    char = found.group()
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return f"含有无效字符（{code}，不成对的代理码元），请删除后重试。"
    if char in "\r\n\u2028\u2029":
        return f"只能填一行文字，不能含有换行（{code}）。"
    return f"不能含有控制字符（{code}），请删除后重试。"


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value, keys included (its depth is already bounded)."""
    found, stack = [], [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            found += node.keys()
            stack += node.values()
        elif isinstance(node, list):
            stack += node
    return found


def _years(name: str, year: int) -> None:
    api = settings().api
    first, last = api.earliest_year, api.latest_year
    if not first <= year <= last:
        raise _invalid(name, f"的年份应在 {first} 到 {last} 之间。")


def convert(name: str, spec: Field, value: Any, *, from_query: bool) -> Any:
    """Check one present value against its spec; return it converted."""
    kind = spec.kind
    if kind == "raw":
        for text in _strings(value):
            problem = text_problem(text)
            if problem:
                raise _invalid(name, problem)
        return value
    if kind == "int":
        if from_query and isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(name, "应为整数。")
        low = max(spec.minimum, -INT_MAX) if spec.minimum is not None else -INT_MAX
        high = min(spec.maximum, INT_MAX) if spec.maximum is not None else INT_MAX
        if value < low:
            raise _invalid(name, f"不能小于 {low}。")
        if value > high:
            raise _invalid(name, f"不能大于 {high}。")
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
        if any(
            isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= INT_MAX for v in value
        ):
            raise _invalid(name, f"应为 1 到 {INT_MAX} 之间的整数列表。")
        return list(dict.fromkeys(value))
    if not isinstance(value, str):
        raise _invalid(name, "应为字符串。")
    problem = text_problem(value, multiline=spec.multiline and kind == "str")
    if problem:
        raise _invalid(name, problem)
    if kind == "str":
        if spec.required and not value.strip():
            raise _invalid(name, "不能为空。")
        if len(value) > spec.max_len:
            raise _invalid(name, f"最多 {spec.max_len} 字，当前 {len(value)} 字。")
        if spec.choices is not None and value not in spec.choices:
            raise _invalid(name, "应为以下之一：" + "、".join(spec.choices) + "。")
        return value
    if kind == "time":
        if not _TIME.fullmatch(value):
            raise _invalid(name, "应为带时区的 ISO 8601 时间，例如 2026-12-01T14:30:00+08:00。")
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _invalid(name, "不是有效的时间。") from None
        _years(name, at.year)
        return at
    if kind == "day":
        if not _DAY.fullmatch(value):
            raise _invalid(name, "应为日期，例如 2026-12-01。")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise _invalid(name, "不是有效的日期。") from None
        _years(name, day.year)
        return day
    # month
    if not _MONTH.fullmatch(value):
        raise _invalid(name, "应为月份，例如 2026-12。")
    try:
        month = date.fromisoformat(value + "-01")
    except ValueError:
        raise _invalid(name, "不是有效的月份。") from None
    _years(name, month.year)
    return month


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


def body(fields: Mapping[str, Field]) -> dict[str, Any]:
    """Read the JSON object body: known fields only, each checked, named in any refusal."""
    data = json_body()
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "请求内容须为 JSON 对象。")
    for name in data:
        if name not in fields:
            if text_problem(name):  # not shown: it may not even be encodable
                raise ApiError(400, "unknown_field", "不支持的字段：字段名含有无效字符。")
            raise ApiError(400, "unknown_field", f"不支持的字段：{name[:40]}")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        value = data.get(name)
        if value is None:
            if spec.required:
                raise ApiError(400, "missing_field", f"缺少字段：{name}")
            continue
        out[name] = convert(name, spec, value, from_query=False)
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
        out[name] = convert(name, spec, value, from_query=True)
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


@functools.cache
def _public_operations() -> frozenset[tuple[str, str]]:
    """(path template, method) of the operations the OpenAPI document opens to anyone."""
    from api.openapi import document

    return frozenset(
        (path, method)
        for path, operations in document()["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == []
    )


@bp.before_request
def _guard() -> None:
    """Who before what: a route that needs a token answers 401 without a valid one before any
    of its input is judged; then a path id out of range answers 400 naming the parameter."""
    rule = request.url_rule
    if rule is None or request.method == "OPTIONS":
        return
    template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
    method = "get" if request.method == "HEAD" else request.method.lower()
    if (template, method) not in _public_operations():
        session()
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 < value <= INT_MAX:
            raise _invalid(name, f"应为 1 到 {INT_MAX} 之间的整数。")


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
