"""Reading imported spreadsheets, shared by the roster and dues imports.

The file itself is checked and read by core.sheet_reader (limits, hostile .xlsx); this module turns
its cells into text, matches headers, checks mobile numbers and words row errors the same way
for every import.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from openpyxl.utils import get_column_letter

from core.config import Settings, defaults
from core.sheet_reader import Limits, TableError, preview, read_rows
from handlers.errors import DomainError

# Cell text quoted in a message is cut to this many characters.
ECHO_CHARS = 30
# Rows per INSERT / IN (...) query: well under SQLite's and PostgreSQL's bound-variable limits.
BATCH = 500
_MOBILE = re.compile(r"1[3-9]\d{9}")
_SCIENTIFIC = re.compile(r"\d(\.\d+)?[eE]\+?\d+")
_DATE_PARTS = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(\s+\d{1,2}:\d{2}(:\d{2})?)?"
)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


@dataclass(frozen=True)
class RowError:
    row_number: int
    message: str  # the full line shown to the secretary: "第5行：…"


def row_error(row_number: int, text: str) -> RowError:
    """Word an error on a file row: 第5行：…"""
    return RowError(row_number, f"第{row_number}行：{text}")


def header_key(text: str) -> str:
    """Fold a header cell for matching: full-width forms, spaces, '*' and (remarks) dropped."""
    s = unicodedata.normalize("NFKC", text)
    s = re.sub(r"\(.*?\)", "", s)
    return re.sub(r"[\s*]", "", s)


# Spaces trimmed from both ends of a cell: the Unicode space separators (U+3000 among them).
# Not tabs or line breaks: a name with those is refused (see handlers.roster), not silently fixed.
_SPACES = " \u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u202f\u205f\u3000"


def cell_text(value: Any) -> str:
    """Render a cell as text; Excel numbers lose their '.0', Excel dates become ISO dates."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip(_SPACES)


@dataclass(frozen=True)
class Header:
    """What an import's header row holds: the accepted texts, the labels, what is required."""

    lookup: Mapping[str, str]  # header_key(text) -> field
    labels: Mapping[str, str]  # field -> the label quoted in messages
    required: tuple[str, ...]
    expected: str  # the sentence saying what the header should be
    search_rows: int = 10  # a title row or two above the header is tolerated


def find_header(
    rows: Iterator[list[Any]], header: Header, error: Callable[[list[RowError]], DomainError]
) -> tuple[int, dict[str, int]]:
    """Consume rows up to the header; return its row number and column index per field.

    A repeated column, a missing required one, no header in the first rows or an empty file
    raise ``error`` with every problem found, worded by row.
    """
    first_nonempty = 0
    for row_number, cells in enumerate(rows, start=1):
        texts = [cell_text(c) for c in cells]
        if not first_nonempty and any(texts):
            first_nonempty = row_number
        columns: dict[str, int] = {}
        errors = []
        for index, text in enumerate(texts):
            key = header.lookup.get(header_key(text))
            if key is None:
                continue
            if key in columns:
                first, again = get_column_letter(columns[key] + 1), get_column_letter(index + 1)
                errors.append(
                    row_error(
                        row_number,
                        f"表头“{header.labels[key]}”出现了两次（第{first}列和第{again}列），"
                        "请删除多余的一列",
                    )
                )
            else:
                columns[key] = index
        if columns:
            missing = [header.labels[k] for k in header.required if k not in columns]
            if missing:
                names = "”“".join(missing)
                errors.append(row_error(row_number, f"表头缺少必填列“{names}”。{header.expected}"))
            if errors:
                raise error(errors)
            return row_number, columns
        if row_number >= header.search_rows:
            break
    if not first_nonempty:
        raise error([row_error(1, "文件是空的，没有表头和数据")])
    raise error([row_error(first_nonempty, "找不到表头。" + header.expected)])


def parse_date(text: str) -> date:
    """Read 2020-07-01, 2020/7/1, 2020.7.1, 2020年7月1日 or 20200701; raise ValueError."""
    s = unicodedata.normalize("NFKC", text).strip()
    m = _DATE_PARTS.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if m is None:
        raise ValueError(text)
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def table_rows(path: str, settings: Settings | None = None) -> Iterator[list[Any]]:
    """The rows of an .xlsx or .csv, checked against the [imports] limits (core.sheet_reader)."""
    try:
        yield from read_rows(path, Limits.from_settings(settings or defaults()))
    except TableError as exc:
        raise DomainError(exc.message) from None


def normalize_phone(raw: str) -> str:
    """Strip what people and Excel add to a mobile number: spaces, dashes, +86, a trailing .0."""
    s = unicodedata.normalize("NFKC", raw).strip()
    s = re.sub(r"\.0+$", "", s)
    s = re.sub(r"[\s\-()]", "", s)
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    elif s.startswith("86") and len(s) == 13:
        s = s[2:]
    return s


def phone_problem(raw: str, phone: str) -> str | None:
    """Say what is wrong with a normalized mobile number (None when it is one), quoting `raw`."""
    if _MOBILE.fullmatch(phone):
        return None
    raw = preview(raw, ECHO_CHARS)
    if "*" in phone:
        return (
            f"手机号“{raw}”是隐藏了中间四位的号码（导出时默认隐藏），不能用来匹配党员。"
            "请重新导出含完整手机号的名册（控制台勾选“含完整手机号”，"
            "命令行加 --full-phones，接口加 full_phones=true），修改后再导入"
        )
    if _SCIENTIFIC.fullmatch(raw.strip()):
        return (
            f"手机号“{raw}”被Excel显示成了科学计数法，号码已不完整，"
            "请把该列设为“文本”格式后重新填写"
        )
    if not phone.isdigit() or len(phone) != 11:
        return f"手机号“{raw}”不是11位手机号"
    return f"手机号“{raw}”不是有效的手机号（应以13～19开头）"


def chunks(items: list[Any], size: int = BATCH) -> Iterator[list[Any]]:
    """Split items into lists of at most `size` (one INSERT or IN (...) each)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
