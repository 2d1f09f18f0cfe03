"""What the jobs produce: prompts, nudges, summaries, meeting reminders, dues and the digest."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers import reminders
from handlers.outbox import enqueue_many
from handlers.study import record_study
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.organization import BranchTerm
from models.outbox import BranchChannel, OutboxMessage
from tests import factories as f
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
THU = datetime(2026, 11, 26, 20, 0, tzinfo=SH)  # a Thursday evening


def channel(branch, **flags):
    return BranchChannel.create(branch=branch, kind="console", target="", **flags)


def texts(rows, kind=None):
    return [r.payload["text"] for r in rows if kind is None or r.kind == kind]


@pytest.fixture
def org(conn):
    a, b = f.branch("第一党支部"), f.branch("第二党支部")
    channel(a, nudge_enabled=True, volunteer_enabled=True)
    channel(b)
    people = {
        "sec": f.member("书记甲", a, roles="secretary"),
        "m1": f.member("党员丙", a),
        "m2": f.member("党员丁", a),
        "act": f.member("积极分子", a, status="activist"),
        "secb": f.member("书记乙", b, roles="secretary"),
    }
    return {"a": a, "b": b, **people}


def test_study_prompt_picks_each_branch_topic_and_follows_calendar_corrections(org, settings):
    f.topic(THU.date(), "全体主题")
    f.topic(THU.date(), "一支部主题", branch=org["a"])
    rows = reminders.study_prompts(THU, settings)
    by_branch = {r.target_id: r.payload["text"] for r in rows}
    assert "《一支部主题》" in by_branch[org["a"].id]
    assert "《全体主题》" in by_branch[org["b"].id]
    assert all(r.period == "2026-11-26" for r in rows)
    settings.calendar.holidays = ["2026-11-26"]  # a local day off
    assert reminders.study_prompts(THU, settings) == []
    saturday = datetime(2026, 11, 28, 8, 0, tzinfo=SH)
    f.topic(saturday.date(), "调休主题")
    assert reminders.study_prompts(saturday, settings) == []
    settings.calendar.workdays = ["2026-11-28"]  # a local working Saturday
    assert len(reminders.study_prompts(saturday, settings)) == 2


def test_nudges_go_only_where_enabled_and_stop_after_check_in(org, settings):
    rows = reminders.study_nudges(THU, settings)
    assert {r.target_id for r in rows} == {org["sec"].id, org["m1"].id, org["m2"].id}
    enqueue_many(rows, now=THU)
    record_study(org["m1"], "学了", now=THU, tz=SH, max_chars=500)
    # The queued nudge for m1 is withdrawn; a later run does not produce it again.
    statuses = {
        r.target_id: r.status
        for r in OutboxMessage.select().where(OutboxMessage.kind == "study_nudge")
    }
    assert statuses[org["m1"].id] == "skipped" and statuses[org["m2"].id] == "pending"
    assert org["m1"].id not in {r.target_id for r in reminders.study_nudges(THU, settings)}


def test_weekly_summary_reports_rates_not_people(org, settings):
    monday = THU - timedelta(days=3)
    record_study(org["m1"], "", now=monday, tz=SH, max_chars=500)
    record_study(org["m1"], "", now=THU, tz=SH, max_chars=500)
    record_study(org["sec"], "", now=THU, tz=SH, max_chars=500)
    record_study(org["act"], "", now=THU, tz=SH, max_chars=500)  # not a party member
    (text,) = [t for t in texts(reminders.study_summaries(THU, settings)) if "第一党支部" in t]
    assert "3 名党员中 2 人参加学习打卡，参与率 67%，共打卡 3 次" in text
    assert "党员丙" not in text and "书记甲" not in text


def test_meeting_reminders_24h_and_1h_name_the_expected(org, settings):
    start = THU + timedelta(hours=20)
    meeting = Meeting.create(
        branch=org["a"],
        kind="lesson",
        title="学习党章",
        place="三楼",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        qr_scene="mtg_x",
    )
    for who in ("sec", "m1"):
        MeetingAttendee.create(meeting=meeting, member=org[who])
    (day_before,) = reminders.meeting_reminders(THU, settings)
    assert day_before.period == f"{meeting.id}:24h" and "明天召开" in day_before.payload["text"]
    assert day_before.payload["mention_member_ids"] == [org["sec"].id, org["m1"].id]
    (hour_before,) = reminders.meeting_reminders(start - timedelta(minutes=55), settings)
    assert hour_before.period == f"{meeting.id}:1h" and "1小时后" in hour_before.payload["text"]
    assert reminders.meeting_reminders(start + timedelta(minutes=1), settings) == []
    Attendance.create(meeting=meeting, member=org["m1"], status="present", method="code")
    (summary,) = reminders.meeting_summaries(start + timedelta(hours=2), settings)
    assert summary.target_id == org["sec"].id and "实到 1 人" in summary.payload["text"]
    assert "缺席：书记甲" in summary.payload["text"]


def test_volunteer_prompt_only_where_turned_on(org, settings):
    rows = reminders.volunteer_prompts(datetime(2026, 11, 28, 9, tzinfo=SH), settings)
    assert [r.target_id for r in rows] == [org["a"].id]


def test_dues_reminders_to_groups_and_debtors(org, settings):
    for who in ("sec", "m1", "m2", "secb"):
        f.assess(org[who], base_fen=800000, from_month=date(2026, 9, 1))
    for month in (9, 10, 11):
        f.pay(org["sec"], date(2026, month, 1), amount_fen=12000)
    f.pay(org["m1"], date(2026, 9, 1), amount_fen=12000)
    rows = reminders.dues_reminders(datetime(2026, 11, 5, 9, tzinfo=SH), settings)
    personal = {r.target_id: r.payload["text"] for r in rows if r.kind == "dues_personal"}
    assert set(personal) == {org["m1"].id, org["m2"].id, org["secb"].id}
    assert "2 个月党费待交" in personal[org["m1"].id] and "240.00" in personal[org["m1"].id]
    assert "3 个月党费待交" in personal[org["m2"].id]
    group = {r.target_id: r.payload["text"] for r in rows if r.kind == "dues_reminder"}
    assert "应交 3 人，已交 1 人" in group[org["a"].id]


@pytest.mark.clock(datetime(2026, 11, 1, 9, 0, tzinfo=SH))  # the org is set up before both days
def test_digest_lists_what_to_act_on_and_nothing_when_all_is_well(org, settings):
    quiet_day = datetime(2026, 11, 10, 8, 30, tzinfo=SH)  # 20 days left in the month
    f.topic(date(2026, 11, 13), "全体主题")  # the study plan goes on this week
    assert reminders.secretary_digests(quiet_day, settings) == []
    now = datetime(2026, 11, 26, 8, 30, tzinfo=SH)
    old = now - timedelta(days=200)
    quiet = f.member("久未联系", org["a"], created_at=old)
    f.member("预备党员", org["a"], status="probationary", joined_on=date(2025, 12, 10))
    f.assess(quiet, base_fen=300000, from_month=date(2026, 11, 1))
    OutboxMessage.create(
        kind="study_prompt",
        target_type="branch",
        target_id=org["a"].id,
        period="x",
        payload='{"text": "t"}',
        branch=org["a"],
        status="dead",
        next_attempt_at=now,
        created_at=now,
    )
    digests = {r.target_id: r.payload["text"] for r in reminders.secretary_digests(now, settings)}
    text = digests[org["sec"].id]
    assert text.startswith("【书记待办】11月26日")
    assert "党费：1 人未交清" in text
    assert "失联：久未联系" in text and "转正：预备党员 预备期将于 12月10日 到期" in text
    assert "会议：支部委员会会议" in text and "消息：1 条通知未能送达" in text
    assert "久未联系" not in digests.get(org["secb"].id, "")


@pytest.mark.clock(datetime(2026, 11, 1, 9, 0, tzinfo=SH))  # no meeting period overdue yet
def test_a_branch_without_study_topics_ahead_is_in_its_secretarys_digest(org, settings):
    now = datetime(2026, 11, 10, 8, 30, tzinfo=SH)
    f.topic(date(2026, 11, 17), "一支部主题", branch=org["a"])  # the 7th day from tomorrow
    digests = {r.target_id: r.payload["text"] for r in reminders.secretary_digests(now, settings)}
    assert org["sec"].id not in digests
    assert "学习计划：未来 7 天没有学习主题" in digests[org["secb"].id]
    f.topic(date(2026, 11, 11), "党委主题", committee=org["b"].committee)
    assert reminders.secretary_digests(now, settings) == []
    settings.study.plan_warning_days = 1
    f.topic(date(2026, 11, 10), "今天的主题不算", branch=org["a"])
    later = datetime(2026, 11, 11, 8, 30, tzinfo=SH)
    assert {r.target_id for r in reminders.secretary_digests(later, settings)} == {
        org["sec"].id,
        org["secb"].id,
    }


def test_committee_admins_hear_in_december_when_next_years_holidays_are_unknown(org, settings):
    admin = f.member("党委管理员", org["a"], roles="committee_admin")
    # Nothing else for the committee to follow up (tests/test_organization.py): terms
    # recorded, party-affairs staff designated, nobody out of touch within this test's span.
    for br in (org["a"], org["b"]):
        BranchTerm.create(branch=br, started_on=date(2025, 6, 1))
        f.member(f"党务{br.id}", br, roles="affairs_staff")
    settings.alerts.lost_contact_days = 1000
    for day in (date(2025, 12, 3), date(2026, 12, 2), date(2027, 1, 5)):
        f.topic(day, "全体主题")  # every branch has a topic ahead on the days below
    december = datetime(2026, 12, 31, 8, 30, tzinfo=SH)
    (row,) = reminders.committee_digests(december, settings)
    assert row.target_id == admin.id and row.kind == "committee_digest"
    assert "2027 年节假日安排尚未发布，请在配置中补充" in row.payload["text"]
    assert reminders.committee_digests(datetime(2026, 11, 30, 8, 30, tzinfo=SH), settings) == []
    settings.calendar.workdays = ["2027-02-06"]  # the operator added next year's days
    assert reminders.committee_digests(december, settings) == []
    settings.calendar.workdays = []
    assert reminders.committee_digests(datetime(2025, 12, 1, 8, 30, tzinfo=SH), settings) == []
    # Branches without topics ahead are counted for the committee, never named by person.
    (row,) = reminders.committee_digests(datetime(2027, 1, 10, 8, 30, tzinfo=SH), settings)
    assert "学习计划：2 个支部未来 7 天没有学习主题" in row.payload["text"]


def test_jobs_use_a_constant_number_of_queries(conn, settings, monkeypatch):
    now = datetime(2026, 11, 26, 8, 30, tzinfo=SH)

    def grow(n):
        for i in range(n):
            br = f.branch(f"支部{i:03d}-{n}")
            channel(br, nudge_enabled=True, volunteer_enabled=True)
            sec = f.member(f"书记{i}-{n}", br, roles="secretary")
            f.assess(sec, base_fen=500000, from_month=date(2026, 10, 1))
            f.member(f"党员{i}-{n}", br)
            f.topic(now.date(), f"主题{i}", branch=br)

    def count(fn):
        with counting_queries(monkeypatch) as seen:
            fn(now, settings)
        return len(seen)

    jobs = [
        reminders.study_prompts,
        reminders.study_nudges,
        reminders.study_summaries,
        reminders.meeting_reminders,
        reminders.meeting_summaries,
        reminders.volunteer_prompts,
        reminders.dues_reminders,
        reminders.secretary_digests,
    ]
    grow(3)
    small = [count(job) for job in jobs]
    grow(30)
    large = [count(job) for job in jobs]
    names = [j.__name__ for j in jobs]
    assert small == large, dict(zip(names, zip(small, large, strict=True), strict=True))


def test_combined_dues_loaders_equal_the_separate_ones(org, settings):
    from handlers import dues

    for who in ("sec", "m1", "m2", "secb"):
        f.assess(org[who], base_fen=800000, from_month=date(2026, 1, 1))
    f.pay(org["sec"], *(date(2026, m, 1) for m in range(1, 12)), amount_fen=12000)
    f.pay(org["m1"], date(2026, 1, 1), amount_fen=12000)
    now = datetime(2026, 11, 26, 8, 30, tzinfo=SH)
    owing, alerts = dues.owing_and_lapse_alerts(now, settings)
    assert owing == dues.all_owing(now, settings) and len(owing) == 3
    assert alerts == dues.lapse_alerts(now, settings) and alerts
    month = dues.this_month(now, SH)
    summaries, owing_again = dues.month_summary_and_owing(now, settings)
    assert summaries == dues.branch_month_summary(month, settings)
    assert owing_again == owing
