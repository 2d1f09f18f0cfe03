"""The shapes of /api/v1: pydantic models of requests and answers, and the constrained types
they are made of (one line of text, ids, aware times, days, months, bounded integers).

A request model is strict (a body's "5" is not the integer 5; a query string's is, through
``from_query``) and closed (unknown fields are refused). ``check`` validates a request against
its model and turns the first refusal into an ApiError whose Chinese message names the field;
``problem`` maps each pydantic error type to that message. The OpenAPI document (api/openapi.py)
is generated from the same models.

A type that needs the app's settings (the years a date may fall in, a configured maximum
length) reads them from the validation context, ``{"settings": ..., "query": bool}``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainValidator,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic import Field as Constraint
from pydantic_core import ErrorDetails, PydanticCustomError

from api.errors import ApiError

# Integers the database stores (ids, counts, amounts in fen): PostgreSQL's integer.
INT_MAX = 2**31 - 1
# Pagination: ?limit= (1..MAX_LIMIT) and ?offset= (0..MAX_OFFSET).
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000
# Characters no text field takes: C0 and C1 controls, DEL, the Unicode line and paragraph
# separators and lone surrogates (which no encoding can store). Multi-line fields keep \n.
_ONE_LINE_BAD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_QUERY_INT = re.compile(r"-?\d{1,12}")
_MONTH = re.compile(r"\d{4}-\d{2}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)")
# The formats of answers: times always in the app's zone (+08:00), to the second.
ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$"
ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"
ISO_MONTH = r"^\d{4}-\d{2}$"


class Request(BaseModel):
    """A request body or query: strict and closed."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Answer(BaseModel):
    """An answer's shape: closed, every field required unless it has a default."""

    model_config = ConfigDict(extra="forbid")


class Error(Answer):
    """Every error under /api/v1 has this shape."""

    errcode: str = Constraint(
        pattern="^[a-z_]+$", description="Stable code of the kind of error, for programs."
    )
    errmsg: str = Constraint(min_length=1, description="中文说明，给用户看")


# ---- refusals --------------------------------------------------------------------------------


def _refuse(message: str) -> PydanticCustomError:
    """A refusal whose message is already ours (the part after "字段 X ")."""
    return PydanticCustomError("zhibu_refused", message)


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


# pydantic's error types whose message needs nothing from the error.
FIXED: dict[str, str] = {
    "int_type": "应为整数。",
    "int_parsing": "应为整数。",
    "int_from_float": "应为整数。",
    "bool_type": "应为 true 或 false。",
    "bool_parsing": "应为 true 或 false。",
    "string_type": "应为字符串。",
    "string_too_short": "不能为空。",
}


def problem(error: ErrorDetails) -> str:
    """Our Chinese message (after "字段 X ") for one pydantic error."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "zhibu_refused":  # raised by our own types with the message already ours
        return error["msg"]
    if kind == "greater_than_equal":
        return f"不能小于 {ctx['ge']}。"
    if kind == "less_than_equal":
        return f"不能大于 {ctx['le']}。"
    if kind in ("too_long", "string_too_long"):
        unit = "项" if isinstance(value, list) else "字"
        return f"最多 {ctx['max_length']} {unit}，当前 {len(value or '')} {unit}。"
    return FIXED.get(kind, "格式不正确。")


def unknown(name: str, *, from_query: bool) -> ApiError:
    """The refusal of a field (or query parameter) the shape does not have."""
    if from_query:
        return ApiError(400, "unknown_field", f"不支持的参数：{name}")
    if text_problem(name):  # not shown: it may not even be encodable
        return ApiError(400, "unknown_field", "不支持的字段：字段名含有无效字符。")
    return ApiError(400, "unknown_field", f"不支持的字段：{name[:40]}")


def refusal(error: ErrorDetails, *, from_query: bool) -> ApiError:
    """The ApiError for one pydantic error: unknown, missing or invalid, naming the field."""
    name = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        return unknown(name, from_query=from_query)
    if error["type"] == "missing":
        return ApiError(400, "missing_field", f"缺少{'参数' if from_query else '字段'}：{name}")
    return invalid(name, problem(error))


def invalid(name: str, what: str) -> ApiError:
    return ApiError(400, "invalid_field", f"字段 {name} {what}")


def check(model: type[Request], data: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` (absent and null fields left out) against ``model``.

    Answers the fields given, converted; the first refusal (unknown fields first, then the
    fields in the model's order) raises an ApiError.
    """
    try:
        parsed = model.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors()
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise refusal(first, from_query=bool(context.get("query"))) from None
    return {name: getattr(parsed, name) for name in model.model_fields if name in data}


@functools.lru_cache(maxsize=64)
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind, config=Request.model_config)


def check_value(kind: Any, name: str, value: Any, context: dict[str, Any]) -> Any:
    """Validate one value (an item of a list, say) against a type; refusals name ``name``."""
    try:
        return _adapter(kind).validate_python(value, context=context)
    except ValidationError as exc:
        raise invalid(name, problem(exc.errors()[0])) from None


# ---- constrained types -----------------------------------------------------------------------


def _in_query(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("query"))


def _int_from_query(value: Any, info: ValidationInfo) -> Any:
    if _in_query(info) and isinstance(value, str) and _QUERY_INT.fullmatch(value):
        return int(value)
    return value


def _bool_from_query(value: Any, info: ValidationInfo) -> Any:
    if _in_query(info) and value in ("true", "false"):
        return value == "true"
    return value


def Int(minimum: int | None = None, maximum: int | None = None) -> Any:  # noqa: N802
    """An integer from ``minimum`` to ``maximum``, within ±INT_MAX."""
    low = max(minimum, -INT_MAX) if minimum is not None else -INT_MAX
    high = min(maximum, INT_MAX) if maximum is not None else INT_MAX
    return Annotated[int, Constraint(ge=low, le=high), BeforeValidator(_int_from_query)]


Id = Int(1)
Bool = Annotated[bool, BeforeValidator(_bool_from_query)]


def _chars(multiline: bool) -> Callable[[str], str]:
    def check_chars(value: str) -> str:
        found = text_problem(value, multiline=multiline)
        if found:
            raise _refuse(found)
        return value

    return check_chars


def _not_blank(value: str) -> str:
    if not value.strip():
        raise _refuse("不能为空。")
    return value


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check_choice(value: str) -> str:
        if value not in choices:
            raise _refuse("应为以下之一：" + "、".join(choices) + "。")
        return value

    return check_choice


def _limit(setting: str) -> Callable[[str, ValidationInfo], str]:
    """A maximum length read from the settings, ``section.key``, at validation time."""

    def check_length(value: str, info: ValidationInfo) -> str:
        section, _, key = setting.partition(".")
        most = getattr(getattr((info.context or {})["settings"], section), key)
        if len(value) > most:
            raise _refuse(f"最多 {most} 字，当前 {len(value)} 字。")
        return value

    return check_length


def _text(
    max_len: int | None,
    *,
    required: bool,
    choices: tuple[str, ...] | None = None,
    multiline: bool = False,
    max_len_setting: str | None = None,
) -> Any:
    rules: list[Any] = [Strict(), AfterValidator(_chars(multiline))]
    if required:
        rules.append(AfterValidator(_not_blank))
    rules.append(Constraint(min_length=1 if required else None, max_length=max_len))
    if max_len_setting:
        rules.append(AfterValidator(_limit(max_len_setting)))
    if choices is not None:
        rules.append(AfterValidator(_one_of(choices)))
        rules.append(Constraint(json_schema_extra={"enum": list(choices)}))
    return Annotated[(str, *rules)]


def OneLine(  # noqa: N802
    max_len: int = 128,
    *,
    required: bool = True,
    choices: tuple[str, ...] | None = None,
    max_len_setting: str | None = None,
) -> Any:
    """One line of text of at most ``max_len`` characters (and at most as many as the setting
    ``max_len_setting``, "section.key", says), never blank when ``required``, one of
    ``choices`` when given."""
    return _text(max_len, required=required, choices=choices, max_len_setting=max_len_setting)


def MultiLine(  # noqa: N802
    max_len: int | None = None, *, required: bool = False, max_len_setting: str | None = None
) -> Any:
    """Text that may break lines, of at most ``max_len`` characters or as many as the setting
    ``max_len_setting`` ("section.key") says."""
    return _text(max_len, required=required, multiline=True, max_len_setting=max_len_setting)


def _years(value: date | datetime, info: ValidationInfo) -> None:
    api = (info.context or {})["settings"].api
    first, last = api.earliest_year, api.latest_year
    if not first <= value.year <= last:
        raise _refuse(f"的年份应在 {first} 到 {last} 之间。")


def _text_of(value: Any) -> str:
    if not isinstance(value, str):
        raise _refuse("应为字符串。")
    found = text_problem(value)
    if found:
        raise _refuse(found)
    return value


def _time(value: Any, info: ValidationInfo) -> datetime:
    text = _text_of(value)
    if not _TIME.fullmatch(text):
        raise _refuse("应为带时区的 ISO 8601 时间，例如 2026-12-01T14:30:00+08:00。")
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _refuse("不是有效的时间。") from None
    _years(at, info)
    return at


def _day(value: Any, info: ValidationInfo) -> date:
    text = _text_of(value)
    if not _DAY.fullmatch(text):
        raise _refuse("应为日期，例如 2026-12-01。")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise _refuse("不是有效的日期。") from None
    _years(day, info)
    return day


def _month(value: Any, info: ValidationInfo) -> date:
    text = _text_of(value)
    if not _MONTH.fullmatch(text):
        raise _refuse("应为月份，例如 2026-12。")
    try:
        month = date.fromisoformat(text + "-01")
    except ValueError:
        raise _refuse("不是有效的月份。") from None
    _years(month, info)
    return month


def _plain(check_value: Callable[[Any, ValidationInfo], Any], schema: dict[str, Any]) -> Any:
    return Annotated[Any, PlainValidator(check_value), WithJsonSchema(schema)]


# ISO 8601 with an offset -> an aware datetime; answers always use +08:00.
Time = _plain(_time, {"type": "string", "format": "date-time"})
# YYYY-MM-DD -> date.
Day = _plain(_day, {"type": "string", "format": "date", "pattern": ISO_DAY})
# YYYY-MM -> the month's first day.
Month = _plain(_month, {"type": "string", "pattern": ISO_MONTH})


def Ids(max_len: int) -> Any:  # noqa: N802
    """A non-empty list of at most ``max_len`` ids, duplicates dropped (first kept)."""

    def check_ids(value: Any, _info: ValidationInfo) -> list[int]:
        if not isinstance(value, list) or not value:
            raise _refuse("应为非空的整数列表。")
        if len(value) > max_len:
            raise _refuse(f"最多 {max_len} 项，当前 {len(value)} 项。")
        if any(
            isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= INT_MAX for v in value
        ):
            raise _refuse(f"应为 1 到 {INT_MAX} 之间的整数列表。")
        return list(dict.fromkeys(value))

    item = {"type": "integer", "minimum": 1, "maximum": INT_MAX}
    return _plain(check_ids, {"type": "array", "items": item, "minItems": 1, "maxItems": max_len})


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


def _raw(value: Any, _info: ValidationInfo) -> Any:
    for text in _strings(value):
        found = text_problem(text)
        if found:
            raise _refuse(found)
    return value


def Raw(schema: dict[str, Any]) -> Any:  # noqa: N802
    """Any JSON value, checked by the view; its strings are held to the one-line rule."""
    return _plain(_raw, schema)


# ---- answers ---------------------------------------------------------------------------------

TimeText = Annotated[str, Constraint(json_schema_extra={"format": "date-time"}, pattern=ISO_TIME)]
DayText = Annotated[str, Constraint(json_schema_extra={"format": "date"}, pattern=ISO_DAY)]
MonthText = Annotated[str, Constraint(pattern=ISO_MONTH)]
Count = Annotated[int, Constraint(ge=0)]
Fen = Annotated[int, Constraint(description="Amount in fen (分).")]
Rate = Annotated[float, Constraint(ge=0, le=1)]


class Page(Answer):
    """The paging of a list (see api.common.paginate); a subclass adds its ``items``."""

    total: Count
    limit: Annotated[int, Constraint(ge=1, le=MAX_LIMIT)]
    offset: Count


Limit = Int(1, MAX_LIMIT)
Offset = Int(0, MAX_OFFSET)


class PageQuery(Request):
    """?limit= (default 20) and ?offset=."""

    limit: Limit | None = Constraint(default=None, description="default 20")
    offset: Offset | None = None
