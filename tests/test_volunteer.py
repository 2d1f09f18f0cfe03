"""Volunteer service (党员志愿服务) in process: hours as typed (2小时, 1.5小时, 90分钟), the day
(today, 11月28日, 昨天), the limits and every refusal's words; confirming and sending back with
the member told through the outbox; the branch's month totals in one grouped query; the
Saturday prompt to the branch groups that turned it on.

The clock is pinned to Monday 30 November 2026, 10:00 in Shanghai.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import reminders
from handlers import volunteer as v
from handlers.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from models.audit import AuditEntry
from models.outbox import OutboxMessage
from models.volunteer import VolunteerEntry
from tests import factories as f
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SH)
NOV = date(2026, 11, 1)


@pytest.fixture
def org(conn: Any) -> dict[str, Any]:
    committee = f.committee("测试党委")
    a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
    return {
        "a": a,
        "b": b,
        "sec": f.member("王书记", a, roles="secretary"),
        "org": f.member("李组织", a, roles="organizer"),
        "m1": f.member("张党员", a),
        "m2": f.member("刘党员", a),
        "secb": f.member("赵书记", b, roles="secretary"),
        "mb": f.member("孙党员", b),
        "admin": f.member("钱管理员", b, roles="committee_admin"),
    }


def log(org: dict[str, Any], settings: Any, text: str, who: str = "m1") -> v.Logged:
    return v.log_by_message(org[who], text, now=NOW, settings=settings)


def refusal(expected: type[DomainError], fn: Any, /, *args: Any, **kw: Any) -> DomainError:
    with pytest.raises(expected) as caught:
        fn(*args, **kw)
    return caught.value


@pytest.mark.parametrize(
    ("text", "minutes", "description", "day"),
    [
        ("2小时 社区清扫", 120, "社区清扫", date(2026, 11, 30)),
        ("1.5小时 慰问困难党员", 90, "慰问困难党员", date(2026, 11, 30)),
        ("90分钟 义务植树", 90, "义务植树", date(2026, 11, 30)),
        ("２小时　社区清扫", 120, "社区清扫", date(2026, 11, 30)),  # full-width
        ("2小时 社区清扫 11月28日", 120, "社区清扫", date(2026, 11, 28)),  # the last 28 Nov
        ("11月28日 3小时 扶贫帮困 入户走访", 180, "扶贫帮困 入户走访", date(2026, 11, 28)),
        ("半小时 交通劝导 昨天", 30, "交通劝导", date(2026, 11, 29)),
        ("一个半小时 环境整治 周六", 90, "环境整治", date(2026, 11, 28)),
        ("1小时30分钟 义诊", 90, "义诊", date(2026, 11, 30)),
        ("1.25h 助老", 75, "助老", date(2026, 11, 30)),
        ("2小时社区清扫", 120, "社区清扫", date(2026, 11, 30)),
        ("2小时 周六扶贫日活动", 120, "周六扶贫日活动", date(2026, 11, 30)),  # not a date
    ],
)
def test_the_bot_reads_hours_what_was_done_and_the_day(
    org, settings, text, minutes, description, day
):
    entry = log(org, settings, text).entry
    assert (entry.minutes, entry.description, entry.day) == (minutes, description, day)
    assert (entry.status, entry.source, entry.branch_id) == ("pending", "bot", org["a"].id)


def test_refusals_say_what_is_wrong_and_what_to_send(org, settings):
    cases = [
        ("社区清扫", "请写明服务时长和内容"),
        ("2小时", "请写明服务内容，例如：志愿 2小时 社区清扫"),
        ("13小时 扶贫", "每次最多登记 12 小时的志愿服务，本次 13小时"),
        ("0小时 扶贫", "服务时长应大于 0"),
        ("2小时 扶贫 2026-12-01", "2026年12月1日还没有到"),
        ("2小时 扶贫 2026-10-30", "只能登记最近 30 天内的志愿服务（2026年10月31日以后）"),
        ("2小时 扶贫 11月31日", "不是有效日期"),
        ("2小时 " + "扶" * 101, "服务内容最多 100 字，本次 101 字"),
    ]
    for text, words in cases:
        caught = refusal(Invalid, log, org, settings, text)
        assert words in caught.message, (text, caught.message)
    assert "11月28日" in refusal(Invalid, log, org, settings, "社区清扫").in_chat
    assert VolunteerEntry.select().count() == 0


def test_limits_are_settings(org, settings):
    settings.volunteer.max_hours_per_entry = 4
    settings.volunteer.max_days_back = 0
    assert "每次最多登记 4 小时" in refusal(Invalid, log, org, settings, "5小时 扶贫").message
    assert "最近 0 天内" in refusal(Invalid, log, org, settings, "1小时 扶贫 昨天").message
    assert log(org, settings, "4小时 扶贫 今天").entry.minutes == 240


def test_the_same_service_twice_is_refused_but_another_that_day_is_not(org, settings):
    log(org, settings, "2小时 社区清扫")
    caught = refusal(Conflict, log, org, settings, "2小时 社区清扫 今天")
    assert caught.errcode == "already_logged" and "已经登记过了" in caught.message
    log(org, settings, "1小时 社区清扫")  # a second turn the same day
    assert VolunteerEntry.select().count() == 2


def test_the_api_logs_the_same_as_the_bot(org, settings):
    by_api = v.log_service(
        org["m2"],
        minutes=120,
        description="社区清扫",
        day=date(2026, 11, 28),
        source="api",
        now=NOW,
        settings=settings,
    ).entry
    by_bot = log(org, settings, "2小时 社区清扫 11月28日", who="m1").entry
    fields = ("day", "minutes", "description", "status", "branch_id")
    assert [getattr(by_api, k) for k in fields] == [getattr(by_bot, k) for k in fields]


def test_confirming_counts_and_is_audited(org, settings):
    entry = log(org, settings, "2小时 社区清扫 11月28日").entry
    done = v.confirm_entry(org["sec"], entry.id, now=NOW, settings=settings)
    assert done.entry.status == "confirmed" and done.member_name == "张党员"
    row = VolunteerEntry.get_by_id(entry.id)
    assert (row.status, row.decided_by_id) == ("confirmed", org["sec"].id)
    (audit,) = AuditEntry.select()
    assert audit.action == "volunteer.confirm"
    assert audit.summary == "确认志愿服务：张党员 2026年11月28日 2小时 社区清扫"
    again = refusal(Conflict, v.confirm_entry, org["sec"], entry.id, now=NOW, settings=settings)
    assert again.errcode == "already_decided" and "已确认，无需再处理" in again.message
    assert v.year_confirmed_minutes(org["m1"], now=NOW, settings=settings) == 120
    assert OutboxMessage.select().count() == 0  # nobody is told of a confirmation


def test_sending_back_needs_a_reason_and_tells_the_member(org, settings):
    entry = log(org, settings, "3小时 扶贫帮困 11月28日").entry
    missing = refusal(
        Invalid, v.reject_entry, org["org"], entry.id, " ", now=NOW, settings=settings
    )
    assert "请写明退回原因" in missing.message
    v.reject_entry(org["org"], entry.id, "当天未组织该活动", now=NOW, settings=settings)
    (message,) = OutboxMessage.select()
    payload = json.loads(message.payload)
    assert (message.kind, message.target_type, message.target_id) == (
        "volunteer_rejected",
        "member",
        org["m1"].id,
    )
    assert payload["text"].startswith(
        "您登记的志愿服务（2026年11月28日 3小时 扶贫帮困）被支部退回：当天未组织该活动。"
    )
    assert "志愿 2小时 社区清扫 11月28日" in payload["text"]
    row = VolunteerEntry.get_by_id(entry.id)
    assert (row.status, row.reason) == ("rejected", "当天未组织该活动")
    assert [e.action for e in AuditEntry.select()] == ["volunteer.reject"]
    late = refusal(Conflict, v.confirm_entry, org["sec"], entry.id, now=NOW, settings=settings)
    assert "已退回，无需再处理" in late.message
    # Sent back, it may be logged again.
    assert log(org, settings, "3小时 扶贫帮困 11月28日").entry.id != entry.id


def test_who_may_see_and_decide(org, settings):
    entry = log(org, settings, "2小时 社区清扫").entry
    for who in ("m2",):  # a member of the branch: not theirs to decide
        caught = refusal(
            Forbidden, v.confirm_entry, org[who], entry.id, now=NOW, settings=settings
        )
        assert "只有支部书记、副书记、组织委员或党委管理员" in caught.message
    for who in ("secb", "mb"):  # another branch: as if it did not exist
        refusal(NotFound, v.confirm_entry, org[who], entry.id, now=NOW, settings=settings)
        refusal(NotFound, v.confirm_entry, org[who], 999_999, now=NOW, settings=settings)
    refusal(Forbidden, v.branch_entries, org["m1"], None, limit=20, offset=0)
    refusal(Forbidden, v.branch_entries, org["secb"], org["a"].id, limit=20, offset=0)
    # The committee admin acts for every branch of the committee.
    page = v.branch_entries(org["admin"], org["a"].id, limit=20, offset=0)
    assert [i.member_name for i in page.items] == ["张党员"] and page.pending == 1
    v.confirm_entry(org["admin"], entry.id, now=NOW, settings=settings)


def test_members_see_only_their_own_entries_and_totals(org, settings):
    log(org, settings, "2小时 社区清扫 11月28日")
    log(org, settings, "1小时 助老", who="m2")
    other = log(org, settings, "1.5小时 义诊 11月20日").entry
    v.confirm_entry(org["sec"], other.id, now=NOW, settings=settings)
    mine = v.my_entries(org["m1"], now=NOW, settings=settings, limit=20, offset=0)
    assert [e.description for e in mine.items] == ["社区清扫", "义诊"]  # newest first
    t = mine.totals
    assert (t.year, t.confirmed_minutes, t.confirmed_entries) == (2026, 90, 1)
    assert (t.pending_minutes, t.pending_entries, t.rejected_entries) == (120, 1, 0)
    assert v.my_entries(org["m2"], now=NOW, settings=settings, limit=20, offset=0).total == 1


def test_branch_list_filters_waiting_first(org, settings):
    first = log(org, settings, "2小时 社区清扫 11月2日").entry
    log(org, settings, "1小时 助老 11月3日", who="m2")
    v.confirm_entry(org["sec"], first.id, now=NOW, settings=settings)
    page = v.branch_entries(org["sec"], None, limit=20, offset=0)
    assert [i.entry.status for i in page.items] == ["pending", "confirmed"]
    waiting = v.branch_entries(org["sec"], None, status="pending", limit=20, offset=0)
    assert (waiting.total, waiting.pending) == (1, 1)
    october = v.branch_entries(org["sec"], None, month=date(2026, 10, 1), limit=20, offset=0)
    assert october.total == 0


def test_month_totals_per_branch_in_one_query(org, settings, monkeypatch):
    def add(who: str, day: int, minutes: int, status: str = "confirmed", month: int = 11) -> None:
        VolunteerEntry.create(
            member=org[who],
            branch=org[who].branch_id,
            day=date(2026, month, day),
            minutes=minutes,
            description="扶贫",
            status=status,
        )

    add("m1", 7, 120)
    add("m1", 28, 60)
    add("m2", 14, 90)
    add("m2", 21, 600, status="pending")
    add("sec", 3, 45, status="rejected")
    add("m1", 30, 60, month=10)
    add("mb", 28, 30)
    with counting_queries(monkeypatch) as seen:
        found = v.month_service(NOV, committee_id=org["a"].committee_id)
    assert len(seen) == 1
    assert found == {
        org["a"].id: v.BranchService(270, 2, 3),
        org["b"].id: v.BranchService(30, 1, 1),
    }
    assert v.month_service(NOV, branch_id=org["b"].id) == {org["b"].id: v.BranchService(30, 1, 1)}


def test_the_saturday_prompt_says_how_to_log_and_can_be_turned_off(org, settings):
    f.group_channel(org["a"], volunteer_enabled=True)
    f.group_channel(org["b"])  # not turned on
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=SH)
    (row,) = reminders.volunteer_prompts(saturday, settings)
    assert (row.target_id, row.period) == (org["a"].id, "2026-11-28")
    text = row.payload["text"]
    assert text.startswith("【周六扶贫日】") and "志愿 2小时 服务内容" in text
    assert "或在小程序中登记" in text
    settings.volunteer.miniprogram_page = "pages/volunteer/index"
    assert (
        "小程序“pages/volunteer/index”页面"
        in reminders.volunteer_prompts(saturday, settings)[0].payload["text"]
    )
    settings.volunteer.prompt_enabled = False
    assert reminders.volunteer_prompts(saturday, settings) == []


def test_hours_typed_in_a_form(org):
    assert [v.parse_minutes(t) for t in ("2", "1.5", "90分钟", "1.5小时", "３")] == [
        120,
        90,
        90,
        90,
        180,
    ]
    assert "没看懂时长“两个钟”" in refusal(Invalid, v.parse_minutes, "两个钟").message
    assert [v.hours_text(m) for m in (45, 60, 90, 125)] == [
        "45分钟",
        "1小时",
        "1小时30分钟",
        "2小时5分钟",
    ]
