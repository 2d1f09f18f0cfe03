"""Read a roster .xlsx or .csv: its header, its columns and its rows as text."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from core.config import Settings
from handlers.errors import DomainError
from handlers.sheets import Header, RowError, cell_text, find_header, header_key, table_rows

log = logging.getLogger(__name__)


# The header is usually row 1; a title row or two above it is tolerated.
HEADER_SEARCH_ROWS = 10


# Canonical columns and the header texts accepted for each (compared after header_key).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系手机"),
    "branch": ("支部", "党支部", "所在支部", "支部名称"),
    "group": ("党小组", "所在党小组", "小组"),
    "status": ("党员状态", "状态", "政治面貌", "发展阶段"),
    "roles": ("职务", "党内职务"),
    "joined_on": ("入党日期", "入党时间", "接收预备党员日期"),
    "full_on": ("转正日期", "转正时间"),
    "dues_category": ("党费类别", "党费交纳类别", "交纳类别"),
    "dues_base": ("工资基数", "党费基数", "交纳基数", "税后月收入"),
    "dues_from": ("基数起始月", "基数起始月份", "党费起始月", "起始月份"),
    "birth_date": ("出生日期", "出生年月日", "生日"),
    "applied_on": ("申请入党日期", "入党申请日期", "递交入党申请日期"),
    "activist_on": ("确定积极分子日期", "确定入党积极分子日期", "列为积极分子日期"),
    "candidate_on": ("确定发展对象日期", "列为发展对象日期"),
}
LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "branch": "支部",
    "group": "党小组",
    "status": "党员状态",
    "roles": "职务",
    "joined_on": "入党日期",
    "full_on": "转正日期",
    "dues_category": "党费类别",
    "dues_base": "工资基数",
    "dues_from": "基数起始月",
    "birth_date": "出生日期",
    "applied_on": "申请入党日期",
    "activist_on": "确定积极分子日期",
    "candidate_on": "确定发展对象日期",
}
REQUIRED = ("name", "phone", "branch")
DUES_COLUMNS = ("dues_category", "dues_base", "dues_from")
DEVELOPMENT_COLUMNS = ("applied_on", "activist_on", "candidate_on")
OPTIONAL = (
    "group",
    "status",
    "roles",
    "joined_on",
    "full_on",
    *DUES_COLUMNS,
    "birth_date",
    *DEVELOPMENT_COLUMNS,
)


@dataclass(frozen=True)
class RosterRow:
    """One data row as text; an optional field is None when its column is absent."""

    row_number: int
    name: str
    phone: str
    branch: str
    group: str | None = None
    status: str | None = None
    roles: str | None = None
    joined_on: str | None = None
    full_on: str | None = None
    dues_category: str | None = None
    dues_base: str | None = None
    dues_from: str | None = None
    birth_date: str | None = None
    applied_on: str | None = None
    activist_on: str | None = None
    candidate_on: str | None = None


class RosterError(DomainError):
    """The roster file has errors; nothing was imported. `errors` lists every one."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        lines = "\n".join(e.message for e in errors)
        super().__init__(f"名册有 {len(errors)} 处错误，未导入任何数据：\n{lines}")


_HEADER_LOOKUP = {header_key(alias): key for key, aliases in COLUMNS.items() for alias in aliases}


def _find_header(rows: Iterator[list[Any]]) -> tuple[int, dict[str, int]]:
    """Consume rows up to the header; return its row number and column index per field."""
    return find_header(
        rows,
        Header(_HEADER_LOOKUP, LABELS, REQUIRED, _expected_header(), HEADER_SEARCH_ROWS),
        RosterError,
    )


def _expected_header() -> str:
    return (
        "表头应为："
        + "、".join(LABELS[k] for k in REQUIRED)
        + "（必填），"
        + "、".join(LABELS[k] for k in OPTIONAL)
        + "（选填）"
    )


def parse_roster(
    path: str | os.PathLike[str], *, settings: Settings | None = None
) -> list[RosterRow]:
    """Read a roster .xlsx or .csv into rows of text, numbered as in the spreadsheet.

    ``settings`` give the [imports] limits on the file (the defaults when None).
    """
    path = os.fspath(path)
    rows = table_rows(path, settings)
    header_row, columns = _find_header(rows)
    width = max(columns.values()) + 1
    out: list[RosterRow] = []
    for row_number, cells in enumerate(rows, start=header_row + 1):
        if len(cells) < width:
            cells = list(cells) + [None] * (width - len(cells))
        values = {key: cell_text(cells[index]) for key, index in columns.items()}
        if not any(v.strip() for v in values.values()):
            continue  # blank lines and Excel's formatted-but-empty rows
        out.append(
            RosterRow(
                row_number=row_number,
                name=values["name"],
                phone=values["phone"],
                branch=values["branch"],
                **{key: values.get(key) for key in OPTIONAL},
            )
        )
    log.info("parsed roster file: %d data rows", len(out))
    return out
