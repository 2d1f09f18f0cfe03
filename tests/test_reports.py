"""The monthly report (月报): figures from the records, as .xlsx read back with openpyxl.

The month is November 2026 (1 November is a Sunday: six weeks, the first and last of one day),
reported on 3 December. Branch A has a secretary, members with check-ins over the weeks, two
meetings with attendance and a leave, dues assessments and payments with a voluntary one, a
lost-contact member and a probationary member whose year ends in December, volunteer service
(confirmed, waiting, sent back, another month) and a county course of 30 hours for 张三.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from handlers.dues import branch_month_summary, lapse_alerts, month_summary_and_lapse_alerts
from handlers.errors import DomainError, Forbidden
from handlers.reminders import people_alerts, secretary_alerts
from handlers.reports import month_report, month_weeks, report_bytes
from models.base import db
from models.dues import DuesPayment
from models.meetings import Attendance
from models.study import StudyCheckin
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry
from tests import factories as f
from tests.support.console import login
from tests.support.meetings import meet
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=SH)
ACTIVE = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
LONG_AGO = NOW - timedelta(days=400)
NOV = date(2026, 11, 1)


def _member(name, br, **fields):
    fields.setdefault("last_active_at", ACTIVE)
    return f.member(name, br, created_at=LONG_AGO, **fields)


def build_branch(name="第一党支部", comm=None):
    """A branch with the records the report reads; returns (branch, people by name)."""
    br = f.branch(name, comm)
    br.created_at = LONG_AGO
    br.save()
    people = {
        "sec": _member(f"{name}书记", br, roles="secretary"),
        "zhang": _member("张三", br),
        "li": _member("李四", br),
        "formula": _member("=1+1", br),
        "wang": _member("王五", br, status="probationary", joined_on=date(2025, 12, 20)),
        "zhao": _member("赵六", br, last_active_at=NOW - timedelta(days=120)),
    }
    # Check-ins: 张三 in weeks 2, 3 and 4 (3 days), 李四 in week 2; nobody else.
    for who, day in (("zhang", 3), ("zhang", 4), ("zhang", 10), ("zhang", 17), ("li", 5)):
        StudyCheckin.create(member=people[who], day=date(2026, 11, day))
    StudyCheckin.create(member=people["zhang"], day=date(2026, 10, 30))  # another month
    expected = [people[k] for k in ("sec", "zhang", "li", "formula")]
    theme = meet(
        br,
        "theme_day",
        datetime(2026, 11, 10, 15, 0, tzinfo=SH),
        present=expected[:2],
        absent=expected[2:],
    )
    Attendance.create(
        meeting=theme,
        member=people["li"],
        status="leave",
        leave_reason="出差",
        leave_status="approved",
    )
    lesson = meet(
        br,
        "lesson",
        datetime(2026, 11, 20, 15, 0, tzinfo=SH),
        present=expected[:3],
        absent=expected[3:],
    )
    Attendance.create(
        meeting=lesson,
        member=people["formula"],
        status="leave",
        leave_reason="生病",
        leave_status="pending",
    )
    meet(br, "lesson", datetime(2026, 10, 20, 15, 0, tzinfo=SH), present=expected)  # October
    # Dues: 8,000.00 in service is 120.00 a month; 张三 paid November, the secretary never.
    f.assess(people["sec"], base_fen=800000, from_month=date(2026, 1, 1))
    f.assess(people["zhang"], base_fen=800000, from_month=date(2026, 11, 1))
    f.pay(people["zhang"], NOV, amount_fen=12000)
    DuesPayment.create(
        member=people["zhang"],
        kind="voluntary",
        amount_fen=100000,
        source="collector",
        recorded_at=datetime(2026, 11, 15, 10, 0, tzinfo=SH),
    )
    # Volunteer service: confirmed in November 张三 2 h and 李四 1.5 h; 李四's second entry is
    # waiting, the formula member's was sent back, the secretary's is October's.
    for who, day, minutes, status in (
        ("zhang", 28, 120, "confirmed"),
        ("li", 7, 90, "confirmed"),
        ("li", 14, 60, "pending"),
        ("formula", 21, 240, "rejected"),
    ):
        VolunteerEntry.create(
            member=people[who],
            branch=br,
            day=date(2026, 11, day),
            minutes=minutes,
            description="社区清扫",
            status=status,
        )
    VolunteerEntry.create(
        member=people["sec"],
        branch=br,
        day=date(2026, 10, 30),
        minutes=60,
        description="社区清扫",
        status="confirmed",
    )
    # 学时: the lessons and the theme day are 90 minutes each (the secretary and 张三 270, 李四
    # 180, the formula member 90); 张三 also had a 30-hour course, so only he reaches 32.
    TrainingRecord.create(
        member=people["zhang"],
        branch=br,
        title="县委党校培训班",
        day=date(2026, 6, 5),
        minutes=1800,
    )
    return br, people


def read(data: bytes):
    return load_workbook(io.BytesIO(data))


def values(ws):
    return [[c.value for c in row] for row in ws.iter_rows()]


def test_month_weeks_cut_at_the_month_ends():
    weeks = month_weeks(NOV)
    assert weeks[0] == (date(2026, 11, 1), date(2026, 11, 1))
    assert weeks[1] == (date(2026, 11, 2), date(2026, 11, 8))
    assert weeks[-1] == (date(2026, 11, 30), date(2026, 11, 30))
    assert len(weeks) == 6


def test_branch_report_figures(conn, settings):
    br, people = build_branch()
    report = month_report(None, 2026, 11, branch_id=br.id, settings=settings, now=NOW)
    (b,) = report.branches
    assert (b.study.members, b.study.participants, b.study.checkins) == (6, 2, 5)
    assert [(w.participants, w.checkins) for w in b.weeks] == [
        (0, 0),
        (2, 3),
        (1, 1),
        (1, 1),
        (0, 0),
        (0, 0),
    ]
    counts = [(m.kind, m.expected, m.present, m.leave, m.absent) for m in b.meetings]
    assert counts == [("theme_day", 4, 2, 1, 1), ("lesson", 4, 3, 0, 1)]
    assert (b.dues.expected_fen, b.dues.collected_fen, b.owed_fen) == (24000, 12000, 12000)
    assert b.voluntary_fen == 100000
    assert [a.member_name for a in b.lapse if a.reason == "dues"] == ["第一党支部书记"]
    assert [name for _, name in b.lost] == ["赵六"]
    assert [(name, ends) for _, name, ends in b.probation] == [("王五", date(2026, 12, 20))]
    assert report.filename == "第一党支部2026年11月月报.xlsx"
    assert (b.volunteer.minutes, b.volunteer.people, b.volunteer.entries) == (210, 2, 2)
    assert (b.training.members, b.training.minutes, b.training.below) == (6, 2610, 5)


def test_branch_workbook_values_and_layout(conn, settings):
    br, _ = build_branch()
    report = month_report(None, 2026, 11, branch_id=br.id, settings=settings, now=NOW)
    wb = read(report_bytes(report))
    assert wb.sheetnames == [
        "汇总",
        "学习",
        "会议要求",
        "会议记录",
        "党费",
        "志愿服务",
        "学时",
        "人员提醒",
    ]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4  # A4 is paper size 9
        assert ws.page_setup.fitToWidth == 1
        assert all(c.font.b for c in ws[1])
        assert ws.column_dimensions["A"].width >= 16
    summary = values(wb["汇总"])
    assert summary[0][:4] == ["支部", "党员人数", "学习参与人数", "学习参与率"]
    row = summary[1]
    assert row[:3] == ["第一党支部", 6, 2]
    assert row[3] == pytest.approx(2 / 6)
    assert row[7] == 2  # meetings held in November
    assert [Decimal(str(v)) for v in row[8:12]] == [
        Decimal("240.00"),
        Decimal("120.00"),
        Decimal("120.00"),
        Decimal("1000.00"),
    ]
    assert row[12:15] == [1, 1, 1]
    assert summary[0][15:] == ["志愿服务（小时）", "志愿服务（人）", "学时未达标（人）"]
    assert [Decimal(str(row[15])), *row[16:]] == [Decimal("3.5"), 2, 5]
    assert summary[2][0] == "合计" and summary[2][1] == 6
    volunteer = values(wb["志愿服务"])
    assert volunteer[0] == ["支部", "服务时长（小时）", "参加人数", "服务次数"]
    assert [Decimal(str(volunteer[1][1])), *volunteer[1][2:]] == [Decimal("3.5"), 2, 2]
    training = values(wb["学时"])
    assert training[0][2:] == [
        "2026年累计学时（截至11月30日）",
        "人均学时",
        "未达32学时（人）",
        "未达标比例",
    ]
    assert training[1][:2] == ["第一党支部", 6]
    assert [Decimal(str(v)) for v in training[1][2:4]] == [Decimal("43.5"), Decimal("7.3")]
    assert training[1][4:] == [5, pytest.approx(5 / 6)]
    assert wb["学时"]["C2"].number_format == "0.0"
    assert wb["汇总"]["I2"].number_format == "#,##0.00"
    meetings = values(wb["会议记录"])
    assert meetings[1][:8] == ["第一党支部", "11月10日", "主题党日", None, 4, 2, 1, 1]
    assert meetings[2][:8] == ["第一党支部", "11月20日", "党课", None, 4, 3, 0, 1]
    assert meetings[-1][:8] == ["合计", "2次", None, None, 8, 5, 1, 2]
    study = values(wb["学习"])
    assert study[2][1:6] == ["第2周", "11月2日至11月8日", 6, 2, pytest.approx(2 / 6)]
    assert study[7][1:7] == ["全月", "11月1日至11月30日", 6, 2, pytest.approx(2 / 6), 5]
    dues = values(wb["党费"])
    assert dues[1][1:3] == [2, 1]
    people = values(wb["人员提醒"])
    names = {(r[0], r[1]) for r in people[1:]}
    assert ("赵六", "失联党员") in names and ("王五", "预备期将满") in names
    assert ("第一党支部书记", "六个月规则：未交纳党费") in names
    assert "'=1+1" not in {r[0] for r in people}  # present and absent, never named as a formula
    required = {r[1]: r for r in values(wb["会议要求"])[1:-1]}
    assert required["主题党日"][3] == 1 and required["主题党日"][6:] == ["是", "已完成"]
    assert required["支部委员会会议"][6:] == ["否", "未完成"]  # November is over


def test_formula_names_are_text(conn, settings):
    br, people = build_branch()
    people["zhao"].name = '=HYPERLINK("http://evil.example","点我")'
    people["zhao"].save()  # the lost-contact member: named in the people sheet
    report = month_report(None, 2026, 11, branch_id=br.id, settings=settings, now=NOW)
    wb = read(report_bytes(report))
    cells = [c for row in wb["人员提醒"].iter_rows() for c in row if c.row > 1 and c.column == 1]
    assert "'" + people["zhao"].name in [c.value for c in cells]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                assert not (isinstance(cell.value, str) and cell.value.startswith(("=", "@")))


def test_the_same_records_give_the_same_bytes(conn, settings):
    br, _ = build_branch()
    first = report_bytes(month_report(None, 2026, 11, branch_id=br.id, settings=settings, now=NOW))
    later = NOW + timedelta(hours=5)
    again = report_bytes(
        month_report(None, 2026, 11, branch_id=br.id, settings=settings, now=later)
    )
    assert first == again
    wb = read(first)
    assert wb.properties.created == datetime(2026, 11, 1)
    assert wb.properties.modified == datetime(2026, 11, 1)


def test_committee_report_rows_and_counts_only(conn, settings):
    comm = f.committee()
    br, _ = build_branch("第一党支部", comm)
    other = f.branch("第二党支部", comm)
    report = month_report(None, 2026, 11, committee_id=comm.id, settings=settings, now=NOW)
    wb = read(report_bytes(report))
    assert "人员提醒" not in wb.sheetnames
    summary = values(wb["汇总"])
    assert [r[0] for r in summary[1:]] == [br.name, other.name, "合计"]
    assert summary[-1][1] == 6
    assert summary[1][12:15] == [1, 1, 1]
    assert summary[1][15:] == [3.5, 2, 5] and summary[2][15:] == [0, 0, 0]
    assert summary[3][15:] == [3.5, 2, 5]  # 合计
    training = values(wb["学时"])
    assert training[1:] == [
        [br.name, 6, 43.5, 7.3, 5, pytest.approx(5 / 6)],
        [other.name, 0, 0, None, 0, None],  # no party members: no average, no share
        ["合计", 6, 43.5, 7.3, 5, pytest.approx(5 / 6)],
    ]
    assert values(wb["志愿服务"])[1:] == [
        [br.name, 3.5, 2, 2],
        [other.name, 0, 0, 0],
        ["合计", 3.5, 2, 2],
    ]
    text = " ".join(str(v) for ws in wb.worksheets for row in values(ws) for v in row)
    for name in ("赵六", "王五", "张三"):
        assert name not in text
    assert report.filename == "测试党委2026年11月月报.xlsx"


def test_committee_report_runs_a_constant_number_of_queries(conn, settings, monkeypatch):
    comm = f.committee()
    build_branch("支部0", comm)

    def count() -> int:
        with counting_queries(monkeypatch) as seen:
            report = month_report(None, 2026, 11, committee_id=comm.id, settings=settings, now=NOW)
            report_bytes(report)
        return len(seen)

    few = count()
    for n in range(1, 5):
        build_branch(f"支部{n}", comm)
    assert count() == few


def test_committee_report_from_the_cli_runs_a_constant_number_of_statements(
    app, tmp_path, monkeypatch
):
    """Every statement the command sends (worker threads' included), at 3 and at 6 branches."""

    def statements(out: str) -> int:
        with counting_queries(monkeypatch) as seen:
            result = app.test_cli_runner().invoke(
                args=["report", "month", "2026-11", "--committee", "测试党委", "--out", out]
            )
        assert result.exit_code == 0, result.output
        return len(seen)

    with app.app_context(), db.connection_context():
        comm = f.committee("测试党委")
        for n in range(3):
            build_branch(f"支部{n}", comm)
    with time_machine.travel(NOW, tick=False):
        three = statements(str(tmp_path / "3.xlsx"))
        with app.app_context(), db.connection_context():
            for n in range(3, 6):
                build_branch(f"支部{n}", comm)
        six = statements(str(tmp_path / "6.xlsx"))
    assert len(values(read((tmp_path / "6.xlsx").read_bytes())["汇总"])) == 1 + 6 + 1
    assert six == three


@pytest.mark.parametrize("now", [NOW, datetime(2026, 11, 20, 10, 0, tzinfo=SH)])
def test_one_load_gives_what_the_summary_and_the_digest_give(conn, settings, now):
    """The report's dues and people: as branch_month_summary and secretary_alerts find them,
    for a month judged at its end and for the current month."""
    comm = f.committee()
    build_branch("第一党支部", comm)
    second, _ = build_branch("第二党支部", comm)
    at = min(now, datetime(2026, 12, 1, tzinfo=SH))
    for scope in ({"committee_id": comm.id}, {"branch_id": second.id}):
        summaries, lapse = month_summary_and_lapse_alerts(NOV, at, settings, **scope)
        assert summaries == branch_month_summary(NOV, settings, **scope)
        assert lapse == lapse_alerts(at, settings, **scope)
        people = people_alerts(at, settings, lapse=lapse, **scope)
        digest = secretary_alerts(at, settings, **scope)
        assert people.keys() <= digest.keys() and people
        for branch_id, found in people.items():
            expected = digest[branch_id]
            assert found.lapse == expected.lapse
            assert found.lost_contact == expected.lost_contact
            assert found.probation == expected.probation
        assert people_alerts(at, settings, **scope) == people


def test_access(conn, settings):
    comm = f.committee()
    br, people = build_branch("第一党支部", comm)
    other = f.branch("第二党支部", comm)
    admin = f.member("党委管理员", other, roles="committee_admin")
    sec = people["sec"]
    assert month_report(sec, 2026, 11, settings=settings, now=NOW).name == br.name
    with pytest.raises(Forbidden):
        month_report(people["zhang"], 2026, 11, settings=settings, now=NOW)
    with pytest.raises(Forbidden):
        month_report(sec, 2026, 11, branch_id=other.id, settings=settings, now=NOW)
    with pytest.raises(Forbidden):
        month_report(sec, 2026, 11, committee_id=comm.id, settings=settings, now=NOW)
    assert month_report(admin, 2026, 11, branch_id=br.id, settings=settings, now=NOW)
    report = month_report(admin, 2026, 11, committee_id=comm.id, settings=settings, now=NOW)
    assert report.scope == "committee"
    elsewhere = f.committee("其他党委")
    with pytest.raises(Forbidden):
        month_report(admin, 2026, 11, committee_id=elsewhere.id, settings=settings, now=NOW)
    with pytest.raises(DomainError, match="还没有到"):
        month_report(sec, 2027, 1, settings=settings, now=NOW)


# ---- the command line -------------------------------------------------------------------------


def test_cli_writes_the_report_and_refuses_an_existing_file(app, tmp_path):
    with app.app_context(), db.connection_context():
        build_branch()
    out = tmp_path / "月报.xlsx"
    runner = app.test_cli_runner()
    with time_machine.travel(NOW, tick=False):
        result = runner.invoke(args=["report", "month", "2026-11", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert f"测试党委2026年11月月报已写入 {out}" in result.output
        assert "1 个支部，党员 6 人，学习参与率 33%" in result.output
        summary = values(read(out.read_bytes())["汇总"])
        assert [r[0] for r in summary[1:]] == ["第一党支部", "合计"]
        before = out.read_bytes()
        again = runner.invoke(
            args=["report", "month", "2026-11", "--branch", "第一党支部", "--out", str(out)]
        )
        assert again.exit_code == 1
        assert "已存在" in again.output
        assert out.read_bytes() == before
        branch_out = tmp_path / "支部.xlsx"
        one = runner.invoke(
            args=[
                "report",
                "month",
                "2026年11月",
                "--branch",
                "第一党支部",
                "--out",
                str(branch_out),
            ]
        )
        assert one.exit_code == 0, one.output
        assert "人员提醒" in read(branch_out.read_bytes()).sheetnames
        later = runner.invoke(args=["report", "month", "2027-01", "--out", str(tmp_path / "x")])
        assert later.exit_code == 1 and "还没有到" in later.output
        assert not (tmp_path / "x").exists()


# ---- the console -----------------------------------------------------------------------------


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_console_links_download_the_reports(app):
    with app.app_context(), db.connection_context():
        comm = f.committee("测试党委")
        a, b = f.branch("第一党支部", comm), f.branch("第二党支部", comm)
        sec = f.member("王书记", a, roles="secretary", phone="13800000001")
        admin = f.member("赵管理员", a, roles="committee_admin", phone="13800000003")
    client = login(app, sec)
    home = client.get(f"/console/branch/{a.id}")
    assert "下载本月月报" in home.text and f"/console/branch/{a.id}/report" in home.text
    got = client.get(f"/console/branch/{a.id}/report")
    assert got.status_code == 200 and got.mimetype == XLSX
    assert quote("第一党支部2026年8月月报.xlsx") in got.headers["Content-Disposition"]
    assert values(read(got.data)["汇总"])[1][0] == "第一党支部"
    assert client.get(f"/console/branch/{b.id}/report").status_code == 403
    assert client.get("/console/committee/report").status_code == 403
    admin_client = login(app, admin)
    page = admin_client.get("/console/committee")
    assert "下载党委月报" in page.text
    whole = admin_client.get("/console/committee/report")
    assert whole.status_code == 200
    assert quote("测试党委2026年8月月报.xlsx") in whole.headers["Content-Disposition"]
    rows = values(read(whole.data)["汇总"])
    assert [r[0] for r in rows[1:]] == ["第一党支部", "第二党支部", "合计"]


# ---- the API ---------------------------------------------------------------------------------


def test_api_download_with_a_chinese_file_name_and_refusals(env):
    a = env.branches["A"]
    path = "/api/v1/reports/month"
    sec = env.token("sec")
    got = env.api.get(path, token=sec, params={"month": "2026-08"})
    assert got.status_code == 200 and got.headers["Content-Type"].startswith(XLSX)
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" + quote("第一党支部2026年8月月报.xlsx") in disposition
    assert values(read(got.content)["汇总"])[1][0] == "第一党支部"
    member = env.api.get(path, token=env.token("m1"))
    assert (member.status_code, member.json()["errcode"]) == (403, "forbidden")
    other = env.api.get(path, token=env.token("secb"), params={"branch_id": a.id})
    assert (other.status_code, other.json()["errcode"]) == (403, "forbidden")
    refused = env.api.get(path, token=sec, params={"scope": "committee"})
    assert refused.status_code == 403
    later = env.api.get(path, token=sec, params={"month": "2027-01"})
    assert later.status_code == 400 and "还没有到" in later.json()["errmsg"]
    admin = env.token("admin")
    whole = env.api.get(path, token=admin, params={"scope": "committee"})
    assert whole.status_code == 200
    assert quote("测试党委2026年8月月报.xlsx") in whole.headers["Content-Disposition"]
    rows = values(read(whole.content)["汇总"])
    assert [r[0] for r in rows[1:]] == ["第一党支部", "第二党支部", "合计"]
    both = env.api.get(path, token=admin, params={"scope": "committee", "branch_id": a.id})
    assert both.status_code == 400
