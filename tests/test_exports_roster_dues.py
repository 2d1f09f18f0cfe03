"""The other exports: the roster (read back by the import unchanged) and the dues ledger.

The roster is set up in the test with groups, statuses, roles, dates and dues assessments of
every kind (a base, a farmer's fixed amount, a student, a future base), exported as .xlsx and
.csv, and imported back with handlers.roster.import_roster.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from handlers.reports.roster import ROSTER_HEADER, roster_rows, write_roster
from handlers.roster import import_roster
from models.base import db
from models.dues import DuesAssessment
from models.org import Member
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
    )
    f.assess(sec, base_fen=812345, from_month=date(2026, 1, 1))
    f.assess(sec, base_fen=900000, from_month=date(2027, 1, 1))  # a future base
    farmer = f.member("农民乙", one, party_group=group, joined_on=date(2010, 3, 5))
    f.assess(farmer, "farmer", base_fen=None, fixed_fen=250, from_month=date(2026, 6, 1))
    probationary = f.member("预备丙", two, status="probationary", joined_on=date(2026, 5, 4))
    f.assess(probationary, "student", base_fen=None, from_month=date(2026, 6, 1))
    later = f.member("新调入丁", two)
    f.assess(later, "retired", base_fen=300000, from_month=date(2027, 2, 1))  # only a future one
    f.member("积极分子戊", two, status="activist")
    f.member("无职务己", two, roles="group_leader")
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
    ]
    assert by_name["农民乙"][8:] == ["农民", "2.50", "2026-06"]
    assert by_name["预备丙"][4:] == [
        "预备党员",
        "",
        "2026-05-04",
        "",
        "学生、下岗失业、领取救济或低保",
        "",
        "2026-06",
    ]
    assert by_name["新调入丁"][8:] == ["离退休", "3000.00", "2027-02"]
    assert by_name["积极分子戊"][4:] == ["入党积极分子", "", "", "", "", "", ""]
    branch = roster_rows(None, branch_id=comm.branches[0].id, settings=settings, now=NOW)
    assert (branch.scope, branch.committee_name) == ("branch", "测试党委")
    assert [row[2] for row in branch.rows] == ["第一党支部", "第一党支部"]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_exported_roster_imports_back_unchanged(conn, settings, tmp_path, suffix):
    comm = build_roster()
    export = roster_rows(None, committee_id=comm.id, settings=settings, now=NOW)
    path = tmp_path / f"名册{suffix}"
    write_roster(export, path, exclusive=True)
    with pytest.raises(FileExistsError):
        write_roster(export, path, exclusive=True)
    members = list(Member.select().order_by(Member.id).dicts())
    assessments = DuesAssessment.select().count()
    report = import_roster(path, "测试党委", now=NOW, settings=settings)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 6)
    assert (report.branches_created, report.groups_created, report.dues_set) == (0, 0, 0)
    assert list(Member.select().order_by(Member.id).dicts()) == members
    assert DuesAssessment.select().count() == assessments


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
        result = runner.invoke(
            args=["report", "roster", "--branch", "第二党支部", "--out", str(out)]
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
