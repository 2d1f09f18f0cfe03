"""The other exports: the roster (read back by the import unchanged) and the dues ledger.

The roster is set up in the test with groups, statuses, roles, dates and dues assessments of
every kind (a base, a farmer's fixed amount, a student, a future base), exported as .xlsx and
.csv, and imported back with handlers.roster.import_roster.
"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from core.tabular import safe_cell
from handlers.errors import DomainError
from handlers.reports.ledger import LEDGER_HEADER, ledger, ledger_bytes
from handlers.reports.roster import ROSTER_HEADER, roster_bytes, roster_rows, write_roster
from handlers.roster import import_roster
from models.base import db
from models.development import DevelopmentRecord
from models.dues import DuesAssessment, DuesMonth, DuesPayment
from models.org import Member, PartyGroup
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=SH)


def build_roster():
    """Two branches of 测试党委 with members of every kind; returns the committee."""
    comm = f.committee()
    one, two = f.branch("第一党支部", comm), f.branch("第二党支部", comm)
    group = f.group(one, "第一党小组")
    sec = f.member(
        "书记甲",
        one,
        roles="dues_collector,secretary",
        party_group=group,
        joined_on=date(2001, 7, 1),
        full_on=date(2002, 7, 1),
        birth_date=date(1975, 3, 8),
    )
    f.assess(sec, base_fen=812345, from_month=date(2026, 1, 1))
    f.assess(sec, base_fen=900000, from_month=date(2027, 1, 1))  # a future base
    farmer = f.member("农民乙", one, party_group=group, joined_on=date(2010, 3, 5))
    f.assess(farmer, "farmer", base_fen=None, fixed_fen=250, from_month=date(2026, 6, 1))
    probationary = f.member("预备丙", two, status="probationary", joined_on=date(2026, 5, 4))
    DevelopmentRecord.create(
        member=probationary,
        applied_on=date(2024, 3, 1),
        activist_on=date(2024, 5, 1),
        candidate_on=date(2025, 5, 6),
        admitted_on=date(2026, 5, 4),
    )
    f.assess(probationary, "student", base_fen=None, from_month=date(2026, 6, 1))
    later = f.member("新调入丁", two)
    f.assess(later, "retired", base_fen=300000, from_month=date(2027, 2, 1))  # only a future one
    activist = f.member("积极分子戊", two, status="activist")
    DevelopmentRecord.create(
        member=activist, applied_on=date(2026, 1, 5), activist_on=date(2026, 3, 1)
    )
    f.member("无职务己", two, roles="group_leader")
    # Text a spreadsheet would run as a formula: exported with an apostrophe, imported without.
    f.member("=1+1", one, party_group=f.group(one, "+86组"))
    f.member("-王", one)
    return comm


def test_roster_rows_are_the_imports_columns(conn, settings):
    comm = build_roster()
    export = roster_rows(None, committee_id=comm.id, settings=settings, now=NOW)
    assert ROSTER_HEADER == (
        "姓名",
        "手机号",
        "支部",
        "党小组",
        "党员状态",
        "职务",
        "入党日期",
        "转正日期",
        "党费类别",
        "工资基数",
        "基数起始月",
        "出生日期",
        "申请入党日期",
        "确定积极分子日期",
        "确定发展对象日期",
    )
    assert (export.scope, export.name, export.committee_name) == (
        "committee",
        "测试党委",
        "测试党委",
    )
    by_name = {row[0]: row for row in export.rows}
    assert by_name["书记甲"][2:] == [
        "第一党支部",
        "第一党小组",
        "正式党员",
        "党费收缴员、书记",
        "2001-07-01",
        "2002-07-01",
        "在职",
        "8123.45",
        "2026-01",
        "1975-03-08",
        "",
        "",
        "",
    ]
    assert by_name["农民乙"][8:] == ["农民", "2.50", "2026-06", "", "", "", ""]
    assert by_name["预备丙"][4:] == [
        "预备党员",
        "",
        "2026-05-04",
        "",
        "学生、下岗失业、领取救济或低保",
        "",
        "2026-06",
        "",
        "2024-03-01",
        "2024-05-01",
        "2025-05-06",
    ]
    assert by_name["新调入丁"][8:] == ["离退休", "3000.00", "2027-02", "", "", "", ""]
    assert by_name["积极分子戊"][4:] == [
        "入党积极分子",
        *[""] * 7,
        "2026-01-05",
        "2026-03-01",
        "",
    ]
    branch = roster_rows(None, branch_id=comm.branches[0].id, settings=settings, now=NOW)
    assert (branch.scope, branch.committee_name) == ("branch", "测试党委")
    assert [row[2] for row in branch.rows] == ["第一党支部"] * 4


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_exported_roster_imports_back_unchanged(conn, settings, tmp_path, suffix):
    comm = build_roster()
    export = roster_rows(None, committee_id=comm.id, settings=settings, now=NOW, full_phones=True)
    path = tmp_path / f"名册{suffix}"
    write_roster(export, path, exclusive=True)
    with pytest.raises(FileExistsError):
        write_roster(export, path, exclusive=True)
    written = {row[0]: row for row in _written_cells(path)}
    assert written["'=1+1"][3] == "'+86组"  # the file holds inert text
    assert "'-王" in written
    members = list(Member.select().order_by(Member.id).dicts())
    groups = sorted(g.name for g in PartyGroup.select())
    assessments = DuesAssessment.select().count()
    records = list(DevelopmentRecord.select().order_by(DevelopmentRecord.id).dicts())
    assert len(records) == 2
    report = import_roster(path, "测试党委", now=NOW, settings=settings)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 8)
    assert (report.branches_created, report.groups_created, report.dues_set) == (0, 0, 0)
    assert list(Member.select().order_by(Member.id).dicts()) == members
    assert sorted(g.name for g in PartyGroup.select()) == groups == ["+86组", "第一党小组"]
    assert {"=1+1", "-王"} <= {m["name"] for m in members}
    assert DuesAssessment.select().count() == assessments
    assert list(DevelopmentRecord.select().order_by(DevelopmentRecord.id).dicts()) == records


def test_roster_bytes_are_what_the_file_holds(conn, settings, tmp_path):
    comm = build_roster()
    export = roster_rows(None, committee_id=comm.id, settings=settings, now=NOW)
    assert export.filename("csv") == "测试党委名册2026年12月3日.csv"
    assert export.ascii_filename("xlsx") == "roster-2026-12-03.xlsx"
    path = tmp_path / "名册.csv"
    write_roster(export, path, exclusive=True)
    data = roster_bytes(export, "csv")
    assert data == path.read_bytes() and data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [list(ROSTER_HEADER), *([safe_cell(v) for v in row] for row in export.rows)]
    book = load_workbook(io.BytesIO(roster_bytes(export)))
    assert book.sheetnames == ["名册"]
    assert list(book.active.values)[1:] == [
        tuple(safe_cell(v) if v else None for v in row) for row in export.rows
    ]
    with pytest.raises(ValueError):
        roster_bytes(export, "xls")


def _written_cells(path):
    """The cells of a written roster as they are in the file: text, never a formula."""
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return list(csv.reader(fh))
    rows = list(load_workbook(path).active.iter_rows())
    assert all(c.data_type == "s" for row in rows for c in row if c.value is not None)
    return [[c.value for c in row] for row in rows]


def test_formula_looking_names_are_written_inert(conn, settings, tmp_path):
    br = f.branch("=1+1")
    f.member("=HYPERLINK(1)", br)
    export = roster_rows(None, branch_id=br.id, settings=settings, now=NOW)
    path = tmp_path / "名册.xlsx"
    write_roster(export, path, exclusive=True)
    ws = load_workbook(path).active
    row = [c.value for c in ws[2]]
    assert row[0] == "'=HYPERLINK(1)"
    assert row[2] == "'=1+1"
    assert all(c.data_type == "s" for c in ws[2] if c.value is not None)


def test_cli_exports_the_roster(app, tmp_path):
    with app.app_context(), db.connection_context():
        build_roster()
    out = tmp_path / "名册.xlsx"
    runner = app.test_cli_runner()
    with time_machine.travel(NOW, tick=False):
        masked = tmp_path / "隐藏手机号.xlsx"
        result = runner.invoke(
            args=["report", "roster", "--branch", "第二党支部", "--out", str(masked)]
        )
        assert result.exit_code == 0, result.output
        assert "手机号已隐藏中间四位" in result.output and "--full-phones" in result.output
        refused = runner.invoke(args=["roster", "import", str(masked), "--committee", "测试党委"])
        assert refused.exit_code == 1
        assert "是隐藏了中间四位的号码" in refused.output and "--full-phones" in refused.output
        result = runner.invoke(
            args=["report", "roster", "--branch", "第二党支部", "--full-phones", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert f"第二党支部名册（4 人）已写入 {out}" in result.output
        again = runner.invoke(args=["report", "roster", "--out", str(out)])
        assert again.exit_code == 1
        assert "已存在" in again.output
        bad = runner.invoke(args=["report", "roster", "--out", str(tmp_path / "x.txt")])
        assert bad.exit_code == 1
        missing = runner.invoke(
            args=["report", "roster", "--branch", "没有", "--out", str(tmp_path / "y.csv")]
        )
        assert missing.exit_code == 1
        assert "未导出名册" in missing.output
        imported = runner.invoke(args=["roster", "import", str(out), "--committee", "测试党委"])
        assert imported.exit_code == 0, imported.output
        assert "新增 0 人，更新 0 人，未变 4 人" in imported.output
    rows = list(load_workbook(out).active.values)
    assert rows[0] == ROSTER_HEADER
    assert [r[0] for r in rows[1:]] == ["预备丙", "新调入丁", "积极分子戊", "无职务己"]


# ---- the dues ledger ----------------------------------------------------------------------------


def _entry(member, kind, amount_fen, at, *, months=(), by=None, note="", reverses=None):
    payment = DuesPayment.create(
        member=member,
        kind=kind,
        amount_fen=amount_fen,
        source="collector" if by else "import",
        recorded_by=by,
        note=note,
        reverses=reverses,
        recorded_at=at,
    )
    for month in months:
        DuesMonth.create(payment=payment, member=member, month=month, amount_fen=12000)
    return payment


def build_ledger():
    """November 2026 in 第一党支部: a payment of two months, one reversed, a voluntary one;
    an October payment and another branch's payment around them."""
    br = f.branch("第一党支部")
    collector = f.member("收缴员", br, roles="dues_collector")
    zhang, li, formula = f.member("张三", br), f.member("李四", br), f.member("=1+1", br)
    for m in (zhang, li):
        f.assess(m, base_fen=800000, from_month=date(2026, 1, 1))
    oct_, nov = date(2026, 10, 1), date(2026, 11, 1)
    _entry(zhang, "dues", 12000, datetime(2026, 10, 28, 9, tzinfo=SH), months=[date(2026, 9, 1)])
    _entry(
        zhang,
        "dues",
        24000,
        datetime(2026, 11, 5, 9, tzinfo=SH),
        months=[oct_, nov],
        by=collector,
        note="现金",
    )
    wrong = _entry(
        li, "dues", 12000, datetime(2026, 11, 6, 9, tzinfo=SH), months=[nov], by=collector
    )
    _entry(formula, "voluntary", 100000, datetime(2026, 11, 15, 9, tzinfo=SH), note="-特殊党费")
    _entry(
        li,
        "reversal",
        -12000,
        datetime(2026, 11, 20, 9, tzinfo=SH),
        by=collector,
        note="登记错误",
        reverses=wrong,
    )
    other = f.member("外支部", f.branch("第二党支部"))
    _entry(other, "voluntary", 5000, datetime(2026, 11, 7, 9, tzinfo=SH))
    return br, wrong


def sheet_values(data: bytes):
    ws = load_workbook(io.BytesIO(data))["党费收缴明细"]
    return ws, [[c.value for c in row] for row in ws.iter_rows()]


def test_ledger_rows_totals_and_inert_text(conn, settings):
    br, wrong = build_ledger()
    report = ledger(None, 2026, 11, branch_id=br.id, settings=settings, now=NOW)
    assert report.period == "2026年11月"
    assert report.filename == "第一党支部2026年11月党费收缴明细.xlsx"
    assert report.ascii_filename == "ledger-2026-11.xlsx"
    data = ledger_bytes(report)
    ws, rows = sheet_values(data)
    assert tuple(rows[0]) == LEDGER_HEADER
    body = rows[1:5]
    assert [r[1:5] for r in body] == [
        ["张三", "第一党支部", "党费", "在职"],
        ["李四", "第一党支部", "党费", "在职"],
        ["李四", "第一党支部", f"更正（冲销第{wrong.id}号）", "在职"],
        ["'=1+1", "第一党支部", "自愿交纳", None],
    ]
    assert [r[5:9] for r in body] == [
        [8000, 120, "2026年10月—2026年11月", 240],
        [8000, 120, "2026年11月", 120],
        [8000, 120, "2026年11月", -120],
        [None, None, None, 1000],
    ]
    assert [r[9].date() for r in body] == [date(2026, 11, d) for d in (5, 6, 20, 15)]
    assert [r[10:] for r in body] == [
        ["收缴员", "现金"],
        ["收缴员", None],
        ["收缴员", "登记错误"],
        ["批量导入", "'-特殊党费"],
    ]
    assert [r[:4] + [r[8]] for r in rows[5:]] == [
        ["合计", None, None, "4笔", 1240],
        ["其中：党费", None, None, "2笔", 360],
        ["其中：自愿交纳", None, None, "1笔", 1000],
        ["其中：更正", None, None, "1笔", -120],
    ]
    assert ws.freeze_panes == "A2"
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
    assert ws["I2"].number_format == "#,##0.00"
    with time_machine.travel(datetime(2027, 3, 1, tzinfo=SH)):
        again = ledger(None, 2026, 11, branch_id=br.id, settings=settings, now=NOW)
        assert ledger_bytes(again) == data


def test_ledger_of_a_year_and_of_a_committee(conn, settings):
    br, _ = build_ledger()
    year = ledger(None, 2026, branch_id=br.id, settings=settings, now=NOW)
    assert year.period == "2026年"
    assert (year.filename, year.ascii_filename) == (
        "第一党支部2026年党费收缴明细.xlsx",
        "ledger-2026.xlsx",
    )
    assert [e.amount_fen for e in year.entries] == [12000, 24000, 12000, -12000, 100000]
    assert year.entries[0].months == [date(2026, 9, 1)]
    whole = ledger(None, 2026, 11, committee_id=br.committee_id, settings=settings, now=NOW)
    assert [e.member for e in whole.entries] == ["张三", "李四", "李四", "外支部", "=1+1"]
    with pytest.raises(DomainError, match="还没有到"):
        ledger(None, 2027, 1, branch_id=br.id, settings=settings, now=NOW)


def test_cli_writes_the_ledger(app, tmp_path):
    with app.app_context(), db.connection_context():
        build_ledger()
    runner = app.test_cli_runner()
    out = tmp_path / "明细.xlsx"
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(
            args=["report", "ledger", "2026-11", "--branch", "第一党支部", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        assert f"第一党支部2026年11月党费收缴明细已写入 {out}" in result.output
        assert "共 4 笔，合计 1240.00 元。" in result.output
        again = runner.invoke(args=["report", "ledger", "2026-11", "--out", str(out)])
        assert again.exit_code == 1 and "已存在" in again.output
        year = runner.invoke(args=["report", "ledger", "2026", "--out", str(tmp_path / "y.xlsx")])
        assert year.exit_code == 0, year.output
        assert "测试党委2026年党费收缴明细" in year.output
        assert "共 6 笔" in year.output
        later = runner.invoke(args=["report", "ledger", "2027-01", "--out", str(tmp_path / "z")])
        assert later.exit_code == 1 and "还没有到" in later.output
        bad = runner.invoke(args=["report", "ledger", "十三月", "--out", str(tmp_path / "w")])
        assert bad.exit_code == 1 and "一整年" in bad.output
        far = runner.invoke(args=["report", "ledger", "9999", "--out", str(tmp_path / "v")])
        assert far.exit_code == 1 and "年份9999不对" in far.output
        assert not (tmp_path / "v").exists()
