"""Roster import from Excel/CSV and binding-code invitations, through the CLI and the functions."""

from __future__ import annotations

import csv
import re
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from cli.roster import INVITE_COLUMNS
from core.clock import UTC, utcnow
from handlers import dues as d
from handlers.binding import bind
from handlers.errors import DomainError
from handlers.roster import (
    RosterError,
    RosterRow,
    import_roster,
    invite,
    parse_roster,
    validate,
)
from models.base import db, is_sqlite
from models.dues import DuesAssessment
from models.org import Branch, Committee, Member, PartyGroup
from models.registry import ALL_MODELS
from models.wechat import BindCode
from tests import factories as f

EXAMPLES = Path(__file__).parent.parent / "examples"
HEADER = ["姓名", "手机号", "支部", "党小组", "党员状态", "职务", "入党日期", "转正日期"]
DUES_HEADER = [*HEADER, "党费类别", "工资基数", "基数起始月"]
COMMITTEE = "示例党委"
T0 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
T1 = datetime(2025, 3, 2, 2, 0, tzinfo=UTC)
JUNE = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)  # 2026-06-10 10:00 in Beijing
JAN26, JUN26, JUL26, AUG26 = (date(2026, k, 1) for k in (1, 6, 7, 8))

# The dues columns of the examples, as stored: (from_month, category, base_fen, fixed_fen).
EXAMPLE_DUES = {
    "13800000001": [(JAN26, "in_service", 800000, None)],
    "13800000002": [(JAN26, "retired", 450000, None)],
    "13800000003": [(JAN26, "in_service", 300000, None)],
    "13800000004": [(JAN26, "student", None, None)],
}

# What examples/roster.csv and examples/roster.xlsx hold, as stored.
EXAMPLE = {
    "13800000001": (
        "王建国",
        "第一党支部",
        "第一党小组",
        "full",
        "secretary",
        date(2005, 7, 1),
        date(2006, 7, 1),
    ),
    "13800000002": (
        "李红梅",
        "第一党支部",
        "第一党小组",
        "full",
        "group_leader,organizer",
        date(2010, 6, 15),
        date(2011, 6, 15),
    ),
    "13800000003": (
        "张伟",
        "第一党支部",
        "第二党小组",
        "probationary",
        "",
        date(2024, 6, 28),
        None,
    ),
    "13800000004": (
        "刘芳",
        "第一党支部",
        "第二党小组",
        "full",
        "propaganda",
        date(2012, 12, 20),
        date(2013, 12, 20),
    ),
    "13800000005": ("陈晓东", "第一党支部", None, "activist", "", None, None),
    "13800000006": (
        "赵丽华",
        "第二党支部",
        None,
        "full",
        "dues_collector,secretary",
        date(2001, 7, 1),
        date(2002, 7, 1),
    ),
    "13800000007": ("孙志强", "第二党支部", None, "away", "", date(2015, 5, 4), date(2016, 5, 4)),
    "13800000008": ("周敏", "第二党支部", None, "candidate", "", None, None),
}


def write_csv(
    path: Path, rows: list[list[Any]], header: list[str] | None = None, encoding: str = "utf-8"
) -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER if header is None else header)
        writer.writerows(rows)
    return path


def example_rows() -> list[list[str]]:
    with open(EXAMPLES / "roster.csv", encoding="utf-8") as fh:
        return list(csv.reader(fh))[1:]


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["roster", *args])


# The helpers below open a connection but no app context: ending an app context closes the
# database, which would pull the connection from under the `conn` fixture.


def stored(app: Any) -> dict[str, tuple]:
    with db.connection_context():
        out = {}
        for m in Member.select():
            group = m.party_group.name if m.party_group_id else None
            out[m.phone] = (
                m.name,
                m.branch.name,
                group,
                m.status,
                m.roles,
                m.joined_on,
                m.full_on,
            )
        return out


def stamps(app: Any) -> dict[str, tuple]:
    with db.connection_context():
        return {m.phone: (m.id, m.updated_at, m.version) for m in Member.select()}


def table_counts(app: Any) -> dict[str, int]:
    with db.connection_context():
        return {m.__name__: m.select().count() for m in ALL_MODELS}


def errors_of(
    path: Path, committee: Committee | None = None, now: datetime | None = None
) -> list[tuple[int, str]]:
    return [(e.row_number, e.message) for e in validate(parse_roster(path), committee, now=now)]


def assessments(app: Any) -> dict[str, list[tuple]]:
    """Every member's dues history by phone: (from_month, category, base_fen, fixed_fen)."""
    with db.connection_context():
        out: dict[str, list[tuple]] = {}
        query = DuesAssessment.select(DuesAssessment, Member).join(Member)
        for a in query.order_by(DuesAssessment.from_month, DuesAssessment.id):
            row = (a.from_month, a.category, a.base_fen, a.fixed_fen)
            out.setdefault(a.member.phone, []).append(row)
        return out


def monthly(phone: str, month: date, settings: dict[str, Any]) -> int:
    """The member's dues for a month, in fen (handlers.dues.member_dues)."""
    member = Member.get(Member.phone == phone)
    return d.member_dues(member, now=JUNE, settings=settings).book.due(month, settings).amount_fen


# ---- importing the examples ---------------------------------------------------------------


def test_cli_imports_the_example_csv(app):
    result = cli(app, "import", str(EXAMPLES / "roster.csv"), "--committee", COMMITTEE)
    assert result.exit_code == 0, result.output
    assert "新增 8 人，更新 0 人，未变 0 人" in result.output
    assert "新建党委 1 个，支部 2 个，党小组 2 个" in result.output
    assert "进度：8/8 行" in result.output
    assert "为 4 名党员登记了新的党费类别或基数" in result.output
    assert stored(app) == EXAMPLE
    assert assessments(app) == EXAMPLE_DUES
    with app.app_context(), db.connection_context():
        assert [b.name for b in Branch.select().order_by(Branch.name)] == [
            "第一党支部",
            "第二党支部",
        ]
        assert {b.committee.name for b in Branch.select()} == {COMMITTEE}
        assert PartyGroup.select().count() == 2


def test_example_xlsx_holds_the_same_roster_as_the_csv(app, conn):
    report = import_roster(EXAMPLES / "roster.xlsx", COMMITTEE)
    assert (report.created, report.updated, report.unchanged) == (8, 0, 0)
    assert (report.branches_created, report.groups_created, report.dues_set) == (2, 2, 4)
    assert stored(app) == EXAMPLE
    assert assessments(app) == EXAMPLE_DUES  # 基数起始月 as Excel dates, 工资基数 as numbers
    report = import_roster(EXAMPLES / "roster.csv", COMMITTEE)
    assert (report.created, report.updated, report.unchanged, report.dues_set) == (0, 0, 8, 0)


def test_reimporting_the_same_file_writes_nothing(app, conn):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE, now=T0)
    before, counts = stamps(app), table_counts(app)
    changes = db.connection().total_changes if is_sqlite() else None
    report = import_roster(EXAMPLES / "roster.xlsx", COMMITTEE, now=T1)
    assert (report.created, report.updated, report.unchanged, report.dues_set) == (0, 0, 8, 0)
    assert (report.branches_created, report.groups_created, report.committee_created) == (
        0,
        0,
        False,
    )
    if changes is not None:
        assert db.connection().total_changes == changes  # not a single row written
    assert stamps(app) == before
    assert table_counts(app) == counts


def test_cli_reimport_reports_everything_unchanged(app):
    path = str(EXAMPLES / "roster.csv")
    assert cli(app, "import", path, "--committee", COMMITTEE).exit_code == 0
    before = stamps(app)
    result = cli(app, "import", path)  # the only committee is the default
    assert result.exit_code == 0, result.output
    assert "（示例党委）：共 8 人，新增 0 人，更新 0 人，未变 8 人。" in result.output
    assert "新建" not in result.output and "党费" not in result.output
    assert stamps(app) == before


def test_an_edited_row_updates_only_that_member(app, conn, tmp_path):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE, now=T0)
    before = stamps(app)
    rows = example_rows()
    rows[2][3:8] = ["第一党小组", "正式", "组织委员", "2024-06-28", "2025年6月28日"]  # 张伟 转正
    rows[4][2:4] = ["第二党支部", "第三党小组"]  # 陈晓东 moves branch, into a new group
    rows.append(["吴静", "13800000009", "第三党支部", "", "预备党员", "", "2025-01-10", ""])
    later = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)  # after 张伟's 转正日期: not in the future
    report = import_roster(write_csv(tmp_path / "edited.csv", rows), COMMITTEE, now=later)
    assert (report.created, report.updated, report.unchanged) == (1, 2, 6)
    assert (report.branches_created, report.groups_created) == (1, 1)
    after, members = stamps(app), stored(app)
    assert members["13800000003"] == (
        "张伟",
        "第一党支部",
        "第一党小组",
        "full",
        "organizer",
        date(2024, 6, 28),
        date(2025, 6, 28),
    )
    assert members["13800000005"][:3] == ("陈晓东", "第二党支部", "第三党小组")
    assert members["13800000009"] == (
        "吴静",
        "第三党支部",
        None,
        "probationary",
        "",
        date(2025, 1, 10),
        None,
    )
    for phone in ("13800000003", "13800000005"):
        assert after[phone] == (before[phone][0], later, 2)
    for phone in set(EXAMPLE) - {"13800000003", "13800000005"}:
        assert after[phone] == before[phone]


def test_columns_left_out_of_the_file_are_kept(app, conn, tmp_path):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE, now=T0)
    rows = [r[:3] for r in example_rows()]
    report = import_roster(write_csv(tmp_path / "short.csv", rows, HEADER[:3]), COMMITTEE)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 8)
    assert stored(app) == EXAMPLE


# ---- all or nothing -----------------------------------------------------------------------


def test_three_bad_rows_write_nothing_and_are_all_reported(app, tmp_path):
    rows = [
        [f"党员{i}", f"1380000{i:04d}", "第一党支部", "", "", "", "", ""] for i in range(1, 11)
    ]
    rows[1][1] = "1380000"  # spreadsheet row 3
    rows[4][4] = "老党员"  # row 6
    rows[7][6:8] = ["2020-07-01", "2019-07-01"]  # row 9
    path = write_csv(tmp_path / "bad.csv", rows)
    result = cli(app, "import", str(path), "--committee", COMMITTEE)
    assert result.exit_code == 1
    assert "名册有 3 处错误，未导入任何数据" in result.output
    assert "第3行：手机号“1380000”不是11位手机号" in result.output
    assert "第6行：党员状态“老党员”无法识别" in result.output
    assert "第9行：转正日期“2019-07-01”早于入党日期“2020-07-01”" in result.output
    assert len(re.findall(r"第\d+行", result.output)) == 3
    assert set(table_counts(app).values()) == {0}


def test_bad_rows_leave_an_existing_roster_untouched(app, tmp_path):
    assert (
        cli(app, "import", str(EXAMPLES / "roster.csv"), "--committee", COMMITTEE).exit_code == 0
    )
    before, counts = stamps(app), table_counts(app)
    rows = example_rows()
    rows[0][4] = "预备党员"  # an edit, in the same file as the errors
    rows.append(["新人", "13800000010", "第九党支部", "新小组", "", "", "", ""])
    rows.append(["", "13800000011", "第一党支部", "", "", "", "", ""])
    result = cli(app, "import", str(write_csv(tmp_path / "mixed.csv", rows)))
    assert result.exit_code == 1
    assert "第11行：姓名不能为空" in result.output
    assert "第2行：党员状态为预备党员，不应填写转正日期“2006-07-01”" in result.output
    assert table_counts(app) == counts
    assert stamps(app) == before
    assert stored(app) == EXAMPLE


def test_a_failure_while_writing_rolls_back_everything(app, conn, tmp_path, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Member, "insert_many", broken)
    with pytest.raises(RuntimeError):
        import_roster(EXAMPLES / "roster.csv", COMMITTEE)
    monkeypatch.undo()
    assert set(table_counts(app).values()) == {0}  # committee, branches and groups rolled back


# ---- dues categories and bases ------------------------------------------------------------


def test_the_dues_columns_set_each_members_category_and_base(app, conn, settings):
    report = import_roster(EXAMPLES / "roster.csv", COMMITTEE, now=JUNE, settings=settings)
    assert (report.created, report.dues_set) == (8, 4)
    assert assessments(app) == EXAMPLE_DUES
    with db.connection_context():
        for a in DuesAssessment.select():
            assert (a.recorded_at, a.recorded_by_id, a.approved_by) == (JUNE, None, "")
    assert monthly("13800000001", JUN26, settings) == 12000  # 8000.00 at 1.5%
    assert monthly("13800000002", JUN26, settings) == 2250  # retired 4500.00 at 0.5%
    assert monthly("13800000003", JUN26, settings) == 1500  # 3000.00 at 0.5%, a 预备党员
    assert monthly("13800000004", JUN26, settings) == 20  # 低保: 0.20 a month
    assert monthly("13800000006", JUN26, settings) == 0  # 赵丽华: no category yet


def test_a_changed_base_adds_an_assessment_from_its_month(app, conn, settings, tmp_path):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE, now=JUNE, settings=settings)
    before = stamps(app)
    rows = example_rows()
    rows[0][9:11] = ["9000", "2026年7月"]  # 王建国's raise, from July
    path = write_csv(tmp_path / "raise.csv", rows, DUES_HEADER)
    report = import_roster(path, COMMITTEE, now=JUNE, settings=settings)
    assert (report.created, report.updated, report.unchanged, report.dues_set) == (0, 0, 8, 1)
    assert stamps(app) == before  # the member row itself is untouched
    history = assessments(app)
    assert history["13800000001"] == [
        (JAN26, "in_service", 800000, None),
        (JUL26, "in_service", 900000, None),
    ]
    assert {k: v for k, v in history.items() if k != "13800000001"} == {
        k: v for k, v in EXAMPLE_DUES.items() if k != "13800000001"
    }
    assert monthly("13800000001", JUN26, settings) == 12000
    assert monthly("13800000001", JUL26, settings) == 13500  # 9000.00 at 1.5% from July
    member = Member.get(Member.phone == "13800000001")
    july = datetime(2026, 7, 10, 2, 0, tzinfo=UTC)
    assert d.member_dues(member, now=july, settings=settings).due.amount_fen == 13500
    counts = table_counts(app)
    report = import_roster(path, COMMITTEE, now=july, settings=settings)
    assert (report.unchanged, report.dues_set) == (8, 0)  # re-import: nothing new
    assert table_counts(app) == counts


def test_an_empty_start_month_means_the_current_one(app, conn, settings, tmp_path):
    header = ["姓名", "手机号", "支部", "党费类别", "工资基数", "基数起始月"]
    rows = [
        ["甲", "13800000021", "一支部", "在职", "8000.00", ""],
        ["乙", "13800000022", "一支部", "农民党员", "0.5", ""],
        ["丙", "13800000023", "一支部", "学生", "", "2026-01-01"],  # an Excel date cell
        ["丁", "13800000024", "一支部", "", "", ""],
    ]
    path = write_csv(tmp_path / "now.csv", rows, header)
    assert import_roster(path, COMMITTEE, now=JUNE, settings=settings).dues_set == 3
    assert assessments(app) == {
        "13800000021": [(JUN26, "in_service", 800000, None)],
        "13800000022": [(JUN26, "farmer", None, 50)],  # a farmer's 工资基数 is the amount
        "13800000023": [(JAN26, "student", None, None)],
    }
    august = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)
    assert import_roster(path, COMMITTEE, now=august, settings=settings).dues_set == 0
    rows[0][4] = "9000"
    path = write_csv(tmp_path / "now.csv", rows, header)
    assert import_roster(path, COMMITTEE, now=august, settings=settings).dues_set == 1
    assert assessments(app)["13800000021"][-1] == (AUG26, "in_service", 900000, None)


def test_a_category_set_by_a_secretary_is_kept_when_the_roster_says_the_same(
    app, conn, settings, tmp_path
):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE, now=JUNE, settings=settings)
    zhao = Member.get(Member.phone == "13800000006")
    approved = {"approved_by": "机关党委", "now": JUNE, "settings": settings}
    d.set_assessment(None, zhao, "exempt", from_month=JAN26, **approved)
    rows = example_rows()
    rows[5][8:11] = ["免交", "", "2026年1月"]
    path = write_csv(tmp_path / "exempt.csv", rows, DUES_HEADER)
    assert import_roster(path, COMMITTEE, now=JUNE, settings=settings).dues_set == 0
    rows[5][10] = "2026年2月"  # a new 免交 row would need the approver the roster lacks
    path = write_csv(tmp_path / "exempt.csv", rows, DUES_HEADER)
    with pytest.raises(RosterError) as caught:
        import_roster(path, COMMITTEE, now=JUNE, settings=settings)
    [error] = caught.value.errors
    assert error.message.startswith("第7行：党费类别：免交党费须经上级党委批准，请写明批准人")


DUES_GOOD = ["好党员", "13800000099", "第一党支部", *[""] * 5, "在职", "8000", "2026年1月"]


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (["老干部", "8000", ""], "第3行：党费类别“老干部”无法识别，可填：在职、离退休、农民"),
        (["在职", "8000.001", ""], "第3行：工资基数“8000.001”有 3 位小数"),
        (["在职", "八千", ""], "第3行：没看懂工资基数“八千”"),
        (["在职", "-8000", ""], "第3行：工资基数“-8000”是负数"),
        (["在职", "", ""], "第3行：工资基数：请写明甲的税后月工资"),
        (["离退休", "0.01", ""], "第3行：工资基数：月离退休费 0.01元 算出的党费不足 1 分"),
        (["农民", "5.00", ""], "第3行：工资基数：农民党员每月交纳的党费由支部确定，应在 0.20元"),
        (["", "8000", "2026年1月"], "第3行：填写了工资基数、基数起始月，党费类别却为空"),
        (["在职", "8000", "2026年13月"], "第3行：基数起始月：“2026年13月”不是有效月份"),
        (["在职", "8000", "2026年1-3月"], "第3行：基数起始月：没看懂月份“2026年1-3月”"),
        (["在职", "8000", "2027年7月"], "第3行：基数起始月：起始月份 2027年7月 太远了"),
        (["免交", "", ""], "第3行：党费类别：免交党费须经上级党委批准"),
    ],
    ids=[
        "unknown-category",
        "three-decimals",
        "words",
        "negative",
        "no-base",
        "zero-dues",
        "farmer-out-of-range",
        "no-category",
        "no-such-month",
        "month-range",
        "month-too-far",
        "exempt-without-approver",
    ],
)
def test_each_dues_rule_names_the_row_and_column(conn, tmp_path, cells, message):
    row = ["甲", "13800000011", "一支部", "", "", "", "", "", *cells]
    path = write_csv(tmp_path / "one.csv", [DUES_GOOD, row], DUES_HEADER)
    errors = errors_of(path, now=JUNE)
    assert len(errors) == 1, errors
    assert errors[0][0] == 3
    assert message in errors[0][1], errors[0][1]


def test_dues_only_for_party_members(app, conn, tmp_path):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE, now=JUNE)
    rows = [
        ["陈晓东", "13800000005", "第一党支部", "在职", "3000", ""],  # activist, as stored
        ["周敏", "13800000008", "第二党支部", "", "", "2026年1月"],  # a month alone: both errors
        ["新人", "13800000031", "第一党支部", "学生", "", ""],  # new: 正式 by default
    ]
    header = ["姓名", "手机号", "支部", "党费类别", "工资基数", "基数起始月"]
    committee = Committee.get(Committee.name == COMMITTEE)
    errors = errors_of(write_csv(tmp_path / "s.csv", rows, header), committee, JUNE)
    assert errors == [
        (
            2,
            "第2行：党员状态为入党积极分子，只有预备党员和正式党员交纳党费，"
            "请清空党费类别、工资基数和基数起始月",
        ),
        (
            3,
            "第3行：填写了基数起始月，党费类别却为空，请填写党费类别，可填：" + d.CATEGORY_CHOICES,
        ),
    ]
    full = example_rows()
    full[4][4] = "正式党员"  # 陈晓东 joins the party in the same file: now he may
    full[4][8:10] = ["在职", "3000"]
    full[6][8] = "在职"  # 孙志强, 流动党员
    errors = errors_of(write_csv(tmp_path / "f.csv", full, DUES_HEADER), committee, JUNE)
    assert [n for n, _ in errors] == [8]
    assert "党员状态为流动党员，只有预备党员和正式党员交纳党费" in errors[0][1]


def test_a_bad_dues_cell_writes_nothing(app, tmp_path):
    path = str(EXAMPLES / "roster.csv")
    assert cli(app, "import", path, "--committee", COMMITTEE).exit_code == 0
    before, counts, history = stamps(app), table_counts(app), assessments(app)
    rows = example_rows()
    rows[0][4] = "预备党员"  # an edit to a member ...
    rows[0][7] = ""
    rows[1][9] = "5000"  # ... and a good change of base ...
    rows[2][9] = "3000.5.5"  # ... in the same file as a bad one
    result = cli(app, "import", str(write_csv(tmp_path / "bad.csv", rows, DUES_HEADER)))
    assert result.exit_code == 1
    assert "名册有 1 处错误，未导入任何数据" in result.output
    assert "第4行：没看懂工资基数“3000.5.5”" in result.output
    assert stamps(app) == before
    assert table_counts(app) == counts
    assert assessments(app) == history


# ---- validation rules ---------------------------------------------------------------------

GOOD = ["好党员", "13800000099", "第一党支部", "", "", "", "", ""]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (["", "13800000011", "一支部", "", "", "", "", ""], "第3行：姓名不能为空"),
        (["甲" * 51, "13800000011", "一支部", "", "", "", "", ""], "过长（最多50个字）"),
        (["甲", "", "一支部", "", "", "", "", ""], "第3行：手机号不能为空"),
        (["甲", "1380000", "一支部", "", "", "", "", ""], "第3行：手机号“1380000”不是11位手机号"),
        (["甲", "138000000111", "一支部", "", "", "", "", ""], "不是11位手机号"),
        (["甲", "1380000001a", "一支部", "", "", "", "", ""], "手机号“1380000001a”不是11位手机号"),
        (
            ["甲", "12800000011", "一支部", "", "", "", "", ""],
            "手机号“12800000011”不是有效的手机号",
        ),
        (
            ["甲", "1.38E+10", "一支部", "", "", "", "", ""],
            "手机号“1.38E+10”被Excel显示成了科学计数法",
        ),
        (["甲", "13800000011", " ", "", "", "", "", ""], "第3行：支部不能为空"),
        (
            ["甲", "13800000011", "一支部", "", "老党员", "", "", ""],
            "第3行：党员状态“老党员”无法识别，可填：入党申请人、入党积极分子、发展对象",
        ),
        (
            ["甲", "13800000011", "一支部", "", "", "书记、主任", "", ""],
            "第3行：职务“书记、主任”中的“主任”无法识别",
        ),
        (
            ["甲", "13800000011", "一支部", "", "", "", "2020-13-01", ""],
            "第3行：入党日期“2020-13-01”不是有效日期（示例：2020-07-01）",
        ),
        (
            ["甲", "13800000011", "一支部", "", "", "", "", "去年"],
            "第3行：转正日期“去年”不是有效日期",
        ),
        (
            ["甲", "13800000011", "一支部", "", "", "", "1900-01-01", ""],
            "入党日期“1900-01-01”不是有效日期",
        ),
        (
            ["甲", "13800000011", "一支部", "", "", "", "2020/7/1", "2019年7月1日"],
            "第3行：转正日期“2019年7月1日”早于入党日期“2020/7/1”",
        ),
        (
            ["甲", "13800000011", "一支部", "", "预备", "", "2020-07-01", "2021-07-01"],
            "第3行：党员状态为预备党员，不应填写转正日期“2021-07-01”",
        ),
    ],
    ids=[
        "empty-name",
        "long-name",
        "empty-phone",
        "short-phone",
        "long-phone",
        "letter-phone",
        "bad-prefix",
        "scientific",
        "empty-branch",
        "unknown-status",
        "unknown-role",
        "bad-joined-date",
        "bad-full-date",
        "joined-before-1921",
        "full-before-joined",
        "probationary-with-full-date",
    ],
)
def test_each_rule_names_the_row_column_and_value(conn, tmp_path, row, message):
    path = write_csv(tmp_path / "one.csv", [GOOD, row])
    errors = errors_of(path)
    assert len(errors) == 1, errors
    assert errors[0][0] == 3
    assert message in errors[0][1], errors[0][1]


def test_dates_in_the_future_are_refused_and_nothing_is_written(app, conn, tmp_path):
    now = datetime(2026, 6, 9, 17, 0, tzinfo=UTC)  # 2026-06-10 01:00 in Beijing
    rows = [
        ["甲", "13800000011", "一支部", "", "", "", "2026-06-10", ""],  # today in Beijing
        ["乙", "13800000012", "一支部", "", "", "", "2026-06-11", ""],
        ["丙", "13800000013", "一支部", "", "", "", "2020-07-01", "2026年6月11日"],
    ]
    path = write_csv(tmp_path / "future.csv", rows)
    assert errors_of(path, now=now) == [
        (3, "第3行：入党日期“2026-06-11”晚于今天（2026-06-10），请核对"),
        (4, "第4行：转正日期“2026年6月11日”晚于今天（2026-06-10），请核对"),
    ]
    with pytest.raises(RosterError):
        import_roster(path, COMMITTEE, now=now)
    assert set(table_counts(app).values()) == {0}
    later = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 2026-06-11 00:00 in Beijing
    assert import_roster(path, COMMITTEE, now=later).created == 3


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            ["\t=1+2", "13800000011", "一支部"],
            "第3行：姓名“\\u0009=1+2”含有控制字符（U+0009），请删除后重新填写",
        ),
        (["张\x01三", "13800000011", "一支部"], "第3行：姓名“张\\u0001三”含有控制字符（U+0001）"),
        (["李\u200b四", "13800000011", "一支部"], "姓名“李\\u200b四”含有控制字符（U+200B）"),
        (["王五\n", "13800000011", "一支部"], "姓名“王五\\u000a”含有控制字符（U+000A）"),
        (["赵六", "13800000011", "一支部\x1b[2J"], "第3行：支部“一支部\\u001b[2J”含有控制字符"),
        (
            ["钱七", "13800000011", "一支部", "一组\u2028"],
            "第3行：党小组“一组\\u2028”含有控制字符",
        ),
    ],
    ids=["leading-tab", "soh", "zero-width-space", "newline", "escape", "line-separator"],
)
def test_names_with_control_characters_are_refused(app, conn, tmp_path, row, message):
    path = write_csv(tmp_path / "ctl.csv", [GOOD, row], HEADER[: len(row)])
    errors = errors_of(path)
    assert [n for n, _ in errors] == [3], errors
    assert message in errors[0][1], errors[0][1]
    with pytest.raises(RosterError):
        import_roster(path, COMMITTEE)
    assert set(table_counts(app).values()) == {0}


def test_a_nul_in_a_name_is_refused_whatever_the_reader(conn):
    row = RosterRow(row_number=7, name="张\x00三", phone="13800000011", branch="一支部")
    assert [e.message for e in validate([row], None)] == [
        "第7行：姓名“张\\u0000三”含有控制字符（U+0000），请删除后重新填写"
    ]


def test_spaces_around_and_inside_names_are_kept_apart(app, conn, tmp_path):
    rows = [["\u3000王\u3000伟 ", "13800000011", " 一支部\u3000"]]
    import_roster(write_csv(tmp_path / "sp.csv", rows, HEADER[:3]), COMMITTEE)
    assert stored(app)["13800000011"][:2] == ("王\u3000伟", "一支部")


def test_every_problem_of_a_row_is_reported(conn, tmp_path):
    path = write_csv(tmp_path / "r.csv", [["", "123", "", "", "老党员", "主任", "x", ""]])
    messages = [m for _, m in errors_of(path)]
    assert len(messages) == 6, messages
    assert all(m.startswith("第2行：") for m in messages)


def test_duplicate_phones_name_both_rows(conn, tmp_path):
    rows = [
        GOOD,
        ["甲", "13800000011", "一支部"] + [""] * 5,
        ["丙", "13800000012", "一支部"] + [""] * 5,
        ["乙", "+86 138-0000-0011", "二支部"] + [""] * 5,
    ]
    errors = errors_of(write_csv(tmp_path / "dup.csv", rows))
    assert errors == [(5, "第5行：手机号“+86 138-0000-0011”与第3行重复，同一手机号只能出现一次")]


def test_a_phone_of_another_committee_is_refused(app, conn, tmp_path):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE)
    other = f.committee("另一个党委")
    rows = [GOOD, ["王建国", "13800000001", "一支部"] + [""] * 5, ["乙", "1", "一支部"] + [""] * 5]
    path = write_csv(tmp_path / "o.csv", rows)
    errors = errors_of(path, other)
    assert errors == [
        (
            3,
            "第3行：手机号“13800000001”已登记在其他党委的党员名下，请核对手机号，"
            "或联系原党委先办理组织关系转出",
        ),
        (4, "第4行：手机号“1”不是11位手机号"),
    ]
    assert errors_of(path, Committee.get(Committee.name == COMMITTEE)) == [
        (4, "第4行：手机号“1”不是11位手机号")
    ]
    del rows[2]
    with pytest.raises(RosterError) as caught:
        import_roster(write_csv(path, rows), "另一个党委")
    assert [e.row_number for e in caught.value.errors] == [3]
    assert stored(app)["13800000001"] == EXAMPLE["13800000001"]


def test_row_numbers_are_the_spreadsheets_across_blank_lines(conn, tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text(
        ",".join(HEADER) + "\n甲,13800000011,一支部\n\n,,,,,,,\n乙,123,一支部\n", encoding="utf-8"
    )
    assert [n for n, _ in errors_of(path)] == [5]


# ---- formats people actually send ---------------------------------------------------------


def test_forgiving_cells_are_normalized(app, conn, tmp_path):
    header = [
        "序号",
        " 姓名 ",
        "手机号\u3000",
        "支部（必填）",
        "党小组",
        "党员状态*",
        "职务",
        "入党日期",
        "转正日期",
        "备注",
    ]
    rows = [
        [
            "1",
            "甲",
            "+86 138 0000 0011",
            "一支部",
            "一组",
            "正式",
            "书记，组织委员",
            "2020-07-01",
            "20210701",
            "x",
        ],
        ["2", "乙", "138-0000-0012", "一支部", "", "预备", "党员", "2024年6月1日", "", ""],
        ["3", "丙", "13800000013.0", "一支部", "", "积极分子", "", "", "", ""],
        ["4", "丁", "8613800000014", "一支部", "", "申请人", "", "", "", ""],
        [
            "5",
            "戊",
            "１３８０００００015",
            "一支部",
            "",
            "流动",
            "宣传委员/纪检委员 党小组长",
            "2001.7.1",
            "2002/7/1",
            "",
        ],
        ["6", "己", "13800000016", "一支部", "", "失联", "", "", "", ""],
        ["7", "庚", "13800000017", "一支部", "", "发展对象", "支部副书记、党务专员", "", "", ""],
        ["8", "辛", "13800000018", "一支部", "", "", "", "", "", ""],
    ]
    report = import_roster(write_csv(tmp_path / "loose.csv", rows, header), COMMITTEE)
    assert report.created == 8
    got = stored(app)
    assert got["13800000011"] == (
        "甲",
        "一支部",
        "一组",
        "full",
        "organizer,secretary",
        date(2020, 7, 1),
        date(2021, 7, 1),
    )
    assert got["13800000012"] == ("乙", "一支部", None, "probationary", "", date(2024, 6, 1), None)
    assert got["13800000015"][3:] == (
        "away",
        "discipline,group_leader,propaganda",
        date(2001, 7, 1),
        date(2002, 7, 1),
    )
    assert {p: v[3] for p, v in got.items()} == {
        "13800000011": "full",
        "13800000012": "probationary",
        "13800000013": "activist",
        "13800000014": "applicant",
        "13800000015": "away",
        "13800000016": "lost",
        "13800000017": "candidate",
        "13800000018": "full",
    }
    assert got["13800000017"][4] == "affairs_staff,deputy_secretary"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_from_excel(app, conn, tmp_path, encoding):
    path = write_csv(tmp_path / "enc.csv", example_rows(), encoding=encoding)
    if encoding == "gbk":
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")  # really not UTF-8
    report = import_roster(path, COMMITTEE)
    assert report.created == 8
    assert stored(app) == EXAMPLE


def as_other_writers_save(path: Path) -> None:
    """Rewrite the sheet as other writers do: whole numbers as floats, a stale sheet size."""
    with zipfile.ZipFile(path) as src:
        parts = [(info, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            if info.filename == "xl/worksheets/sheet1.xml":
                for plain, other in (
                    ("13800000022", "1.3800000022E10"),
                    ("20200701", "2.0200701E7"),
                ):
                    assert f"<v>{plain}</v>".encode() in data
                    data = data.replace(f"<v>{plain}</v>".encode(), f"<v>{other}</v>".encode())
                data, n = re.subn(rb'<dimension ref="[A-Z0-9:]+"', b'<dimension ref="A1:B2"', data)
                assert n == 1
            out.writestr(info, data)


def test_excel_numbers_dates_and_a_title_row(app, conn, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["第一党支部党员名册（2025年）"])
    ws.append(HEADER)
    ws.append(
        [
            "甲",
            13800000021.0,
            "一支部",
            None,
            "正式党员",
            "书记",
            datetime(2020, 7, 1),
            datetime(2021, 7, 1),
        ]
    )
    ws.append(["乙", 13800000022, "一支部", None, None, None, 20200701, "2021年7月1日"])
    ws.append([None] * 8)
    ws.append(["丙", "138 0000 0023", "一支部", None, "预备党员", None, date(2024, 6, 1), None])
    path = tmp_path / "numbers.xlsx"
    wb.save(path)
    as_other_writers_save(path)
    report = import_roster(path, COMMITTEE)
    assert report.created == 3
    got = stored(app)
    assert got["13800000021"] == (
        "甲",
        "一支部",
        None,
        "full",
        "secretary",
        date(2020, 7, 1),
        date(2021, 7, 1),
    )
    assert got["13800000022"][5:] == (date(2020, 7, 1), date(2021, 7, 1))
    assert got["13800000023"][3] == "probationary"
    ws.append(["丁", 1380000002.0, "一支部"])  # a digit lost: spreadsheet row 7
    wb.save(path)
    as_other_writers_save(path)
    committee = Committee.get(Committee.name == COMMITTEE)
    assert errors_of(path, committee) == [(7, "第7行：手机号“1380000002”不是11位手机号")]


def test_missing_required_header_is_one_clear_error(app, tmp_path):
    path = write_csv(tmp_path / "nohdr.csv", [["甲", "一支部"]], ["姓名", "所在支部"])
    with app.app_context(), db.connection_context():
        with pytest.raises(RosterError) as caught:
            parse_roster(path)
    [error] = caught.value.errors
    assert error.row_number == 1
    assert error.message.startswith("第1行：表头缺少必填列“手机号”。"), error.message
    assert "表头应为：姓名、手机号、支部（必填）" in caught.value.message
    result = cli(app, "import", str(path), "--committee", COMMITTEE)
    assert result.exit_code == 1
    assert "第1行：表头缺少必填列“手机号”" in result.output
    assert set(table_counts(app).values()) == {0}


def test_a_file_without_any_header(conn, tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("甲,13800000011,一支部\n", encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        parse_roster(path)
    assert caught.value.errors[0].message.startswith(
        "第1行：找不到表头。表头应为：姓名、手机号、支部"
    )


def test_unreadable_files_are_refused_in_chinese(app, tmp_path):
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (tmp_path / "fake.xlsx").write_bytes(b"not a zip")
    cases = {
        "old.xls": "不支持旧版 .xls 文件",
        "fake.xlsx": "无法读取Excel文件",
        "missing.csv": "找不到文件",
    }
    for name, says in cases.items():
        result = cli(app, "import", str(tmp_path / name), "--committee", COMMITTEE)
        assert result.exit_code == 1 and says in result.output, (name, result.output)
    assert set(table_counts(app).values()) == {0}


def test_committee_must_be_named_unless_there_is_exactly_one(app):
    path = str(EXAMPLES / "roster.csv")
    result = cli(app, "import", path)
    assert result.exit_code == 1 and "请用 --committee 指定党委名称" in result.output
    with app.app_context(), db.connection_context():
        f.committee("第一党委")
        f.committee("第二党委")
    result = cli(app, "import", path)
    assert result.exit_code == 1
    assert (
        "数据库中有多个党委（第一党委、第二党委），请用 --committee 指定其中一个" in result.output
    )
    assert table_counts(app)["Member"] == 0
    assert cli(app, "import", path, "--committee", "第二党委").exit_code == 0
    with app.app_context(), db.connection_context():
        assert {b.committee.name for b in Branch.select()} == {"第二党委"}


def test_progress_is_reported_while_checking_and_after_writing(app, conn, tmp_path):
    rows = [[f"党员{i}", f"139{i:08d}", f"第{i % 3}支部", "", "", "", "", ""] for i in range(1000)]
    calls: list[tuple[int, int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total, Member.select().count()))

    report = import_roster(write_csv(tmp_path / "p.csv", rows), COMMITTEE, progress)
    assert report.created == 1000 and report.branches_created == 3
    # Only the call after writing reaches the total.
    assert calls == [(500, 1000, 0), (1000, 1000, 1000)]


# ---- binding codes ------------------------------------------------------------------------


def read_codes(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM, so Excel opens it as UTF-8
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == INVITE_COLUMNS
        return [dict(zip(INVITE_COLUMNS, row, strict=True)) for row in reader]


def test_invite_writes_codes_that_bind_and_are_stored_hashed(app, settings, tmp_path):
    assert (
        cli(app, "import", str(EXAMPLES / "roster.csv"), "--committee", COMMITTEE).exit_code == 0
    )
    with app.app_context(), db.connection_context():
        f.bound(Member.get(Member.phone == "13800000001"))
    out = tmp_path / "codes.csv"
    started = utcnow()
    result = cli(app, "invite", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"已为 7 名党员生成绑定码，写入 {out}" in result.output
    rows = read_codes(out)
    assert [r["姓名"] for r in rows] == [
        "李红梅",
        "张伟",
        "刘芳",
        "陈晓东",
        "赵丽华",
        "孙志强",
        "周敏",
    ]
    assert rows[0]["支部"] == "第一党支部" and rows[-1]["支部"] == "第二党支部"
    assert rows[0]["手机号"] == "138****0002"
    tz = ZoneInfo(settings.app.timezone)
    expected = (started + timedelta(days=settings.binding.code_ttl_days)).astimezone(tz)
    for row in rows:
        assert re.fullmatch(r"138\*{4}\d{4}", row["手机号"])
        assert re.fullmatch(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}", row["绑定码"])
        until = datetime.strptime(row["有效期至"], "%Y-%m-%d %H:%M").replace(tzinfo=tz)
        assert abs(until - expected) < timedelta(minutes=2)
        assert f"在公众号发送“绑定 {row['绑定码']}”" in row["发给党员的说明"]
    codes = {r["绑定码"] for r in rows} | {r["绑定码"].replace("-", "") for r in rows}
    with app.app_context(), db.connection_context():
        assert BindCode.select().count() == 7
        for model in ALL_MODELS:
            for values in model.select().tuples():
                for value in values:
                    assert not any(c in str(value) for c in codes), (model.__name__, value)
        for i, row in enumerate(rows):
            outcome = bind(
                f"openid-new-{i}",
                row["绑定码"],
                secret_key=settings.app.secret_key,
                now=utcnow(),
                max_failures=settings.binding.max_failures_per_hour,
            )
            assert outcome.member is not None, outcome.message
            assert outcome.member.name == row["姓名"]
    result = cli(app, "invite", "--out", str(tmp_path / "again.csv"))
    assert result.exit_code == 0
    assert "没有需要发放绑定码的党员" in result.output
    assert not (tmp_path / "again.csv").exists()


def test_invite_one_branch_skips_bound_and_out_members(app, settings, conn):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE)
    second = Branch.get(Branch.name == "第二党支部")
    f.member("钱退", second, status="out", phone="13800000050")
    f.bound(Member.get(Member.phone == "13800000006"))
    issued = invite("第二党支部", settings=settings, now=utcnow())
    assert [c.member.name for c in issued] == ["孙志强", "周敏"]
    issued = invite(committee_name=COMMITTEE, settings=settings, now=utcnow())
    assert len(issued) == 7  # 8 on the roster, one bound; the member out of the party is not


def test_invite_for_an_unknown_branch_lists_the_real_ones(app, tmp_path):
    assert (
        cli(app, "import", str(EXAMPLES / "roster.csv"), "--committee", COMMITTEE).exit_code == 0
    )
    out = tmp_path / "codes.csv"
    result = cli(app, "invite", "--branch", "第九党支部", "--out", str(out))
    assert result.exit_code == 1
    assert "没有名为“第九党支部”的支部。现有支部：第一党支部、第二党支部" in result.output
    assert not out.exists()
    assert table_counts(app)["BindCode"] == 0


def test_a_failed_csv_write_issues_no_code(app, settings, conn):
    import_roster(EXAMPLES / "roster.csv", COMMITTEE)
    first = invite(settings=settings, now=utcnow())

    def fail(issued: list[Any]) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        invite(settings=settings, now=utcnow(), deliver=fail)
    assert BindCode.select().count() == 8
    assert BindCode.select().where(BindCode.expires_at > utcnow()).count() == 8
    outcome = bind(
        "o-1",
        first[0].code,
        secret_key=settings.app.secret_key,
        now=utcnow(),
        max_failures=5,
    )
    assert outcome.member is not None  # the earlier code still works


def test_invite_refuses_to_overwrite_a_file(app, tmp_path):
    assert (
        cli(app, "import", str(EXAMPLES / "roster.csv"), "--committee", COMMITTEE).exit_code == 0
    )
    out = tmp_path / "codes.csv"
    out.write_text("keep me", encoding="utf-8")
    result = cli(app, "invite", "--out", str(out))
    assert result.exit_code == 1 and "已存在" in result.output
    assert out.read_text(encoding="utf-8") == "keep me"
    assert table_counts(app)["BindCode"] == 0


def test_invite_in_a_committee_that_does_not_exist(app, settings, conn):
    f.committee("甲党委")
    with pytest.raises(DomainError) as caught:
        invite(committee_name="乙党委", settings=settings, now=utcnow())
    assert caught.value.message == "没有名为“乙党委”的党委。现有党委：甲党委"


# ---- scale --------------------------------------------------------------------------------


@pytest.mark.slow
def test_twenty_thousand_rows_import_in_seconds(app, conn, tmp_path, request):
    statuses = ["正式党员", "预备党员", "入党积极分子", "发展对象"]
    rows = []
    for i in range(20_000):
        status = statuses[i % 4]
        full_on = "2021-07-01" if status == "正式党员" else ""
        rows.append(
            [
                f"党员{i}",
                f"139{i:08d}",
                f"第{i % 200}党支部",
                f"第{i // 200 % 2}党小组",
                status,
                "书记" if i % 100 == 0 else "",
                "2020-07-01",
                full_on,
            ]
        )
    path = write_csv(tmp_path / "big.csv", rows)
    started = time.perf_counter()
    report = import_roster(path, COMMITTEE, now=T0)
    elapsed = time.perf_counter() - started
    assert (report.created, report.branches_created, report.groups_created) == (20_000, 200, 400)
    # A few seconds on SQLite; PostgreSQL pays a round trip per 500-row batch.
    limit = 10 if is_sqlite() else 30
    assert elapsed < limit, f"20,000 rows took {elapsed:.1f} s"
    assert Member.select().count() == 20_000
    m = Member.get(Member.phone == "13900012345")
    assert (m.name, m.branch.name, m.party_group.name, m.status) == (
        "党员12345",
        "第145党支部",
        "第1党小组",
        "probationary",
    )
    assert Member.select().where(Member.roles == "secretary").count() == 200

    started = time.perf_counter()
    report = import_roster(path, COMMITTEE, now=T1)
    again = time.perf_counter() - started
    assert (report.created, report.updated, report.unchanged) == (0, 0, 20_000)
    assert Member.select().where(Member.updated_at != T0).count() == 0

    for row in rows[:1000]:
        row[5] = "组织委员"
    report = import_roster(write_csv(tmp_path / "big2.csv", rows), COMMITTEE, now=T1)
    assert (report.created, report.updated, report.unchanged) == (0, 1000, 19_000)
    assert Member.select().where(Member.version == 2).count() == 1000
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"roster: 20,000 rows imported in {elapsed:.2f} s, "
            f"re-imported unchanged in {again:.2f} s"
        )


# ---- 出生日期 (optional): the committee's age structure ---------------------------------------


def test_birth_dates_are_read_checked_and_kept_when_the_column_is_left_out(app, conn, tmp_path):
    header = [*HEADER, "出生日期"]
    rows = [
        ["甲", "13800000011", "一支部", "", "", "", "2010-07-01", "2011-07-01", "1985年3月8日"],
        ["乙", "13800000012", "一支部", "", "", "", "", "", ""],
    ]
    report = import_roster(write_csv(tmp_path / "born.csv", rows, header), COMMITTEE, now=JUNE)
    assert report.created == 2
    born = {m.name: m.birth_date for m in Member.select()}
    assert born == {"甲": date(1985, 3, 8), "乙": None}
    # A file without the column changes nobody's birth date.
    short = write_csv(tmp_path / "short.csv", [r[:8] for r in rows])
    assert import_roster(short, COMMITTEE, now=JUNE).unchanged == 2
    assert {m.name: m.birth_date for m in Member.select()} == born
    bad = [
        ["丙", "13800000013", "一支部", "", "", "", "", "", "2026-06-11"],
        ["丁", "13800000014", "一支部", "", "", "", "1980-01-01", "", "1990-05-05"],
        ["戊", "13800000015", "一支部", "", "", "", "", "", "1990-13-01"],
    ]
    assert errors_of(write_csv(tmp_path / "bad.csv", bad, header), now=JUNE) == [
        (2, "第2行：出生日期“2026-06-11”晚于今天（2026-06-10），请核对"),
        (3, "第3行：入党日期“1980-01-01”不晚于出生日期“1990-05-05”，请核对"),
        (4, "第4行：出生日期“1990-13-01”不是有效日期（示例：2020-07-01）"),
    ]
