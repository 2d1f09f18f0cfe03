"""A branch's organization in process: committee terms (换届) recorded with their history, the
reminders 6 and 3 months before a term ends on their pinned days, the committee's flags for a
term ended or never recorded; the follow-up of lost-contact cases (outcomes, the digest that
stops repeating a handled case and brings it back); branches without a party-affairs staffer.
Every refusal is checked by its words."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import organization as o
from handlers import reminders
from handlers.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from handlers.outbox import enqueue_many
from models.audit import AuditEntry
from models.organization import BranchTerm, ContactOutcome
from models.outbox import OutboxMessage
from tests import factories as f
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 1, 10, 0, tzinfo=SH)
LONG_AGO = NOW - timedelta(days=400)
STARTED = date(2023, 10, 1)  # a term of 3 years ends on 2026-10-01


def at_nine(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=SH)


@pytest.fixture
def org(conn: Any) -> dict[str, Any]:
    committee = f.committee("测试党委")
    a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
    old = {"created_at": LONG_AGO, "last_active_at": NOW}
    return {
        "a": a,
        "b": b,
        "sec": f.member("王书记", a, roles="secretary", **old),
        "org": f.member("李组织", a, roles="organizer", **old),
        "pro": f.member("周宣传", a, roles="propaganda,group_leader", **old),
        "dis": f.member("吴纪检", a, roles="discipline", **old),
        "col": f.member("郑收缴", a, roles="dues_collector", **old),
        "m1": f.member("张党员", a, **old),
        "secb": f.member("赵书记", b, roles="secretary", **old),
        "admin": f.member("钱管理员", b, roles="committee_admin", **old),
    }


def refusal(expected: type[DomainError], fn: Any, /, *args: Any, **kw: Any) -> DomainError:
    with pytest.raises(expected) as caught:
        fn(*args, **kw)
    return caught.value


def record(org: dict[str, Any], settings: Any, who: str = "sec", **fields: Any) -> o.TermPage:
    values = {"started_on": STARTED, **fields}
    branch_id = values.pop("branch_id", org["a"].id)
    when = values.pop("now", NOW)
    return o.record_term(org[who], branch_id, now=when, settings=settings, **values)


# ---- terms: recording and history ------------------------------------------------------------


def test_a_recorded_term_ends_after_the_configured_years_and_keeps_its_history(org, settings):
    first = record(org, settings, started_on=date(2020, 9, 30), note="第五届")
    assert first.state.current.ends_on == date(2023, 9, 30)
    assert first.state.status == "overdue" and first.state.days_left == -1067
    page = record(org, settings, note="第六届支部委员会选举")
    term = page.state.current
    assert (term.started_on, term.ends_on, term.years, term.own_years) == (
        STARTED,
        date(2026, 10, 1),
        3,
        False,
    )
    assert (page.state.status, page.state.status_label, page.state.days_left) == (
        "due_soon",
        "即将届满",
        30,
    )
    assert [t.note for t in page.history] == ["第六届支部委员会选举", "第五届"]
    assert page.history[0].recorded_by.name == "王书记"
    entry = AuditEntry.select().where(AuditEntry.action == "term.record").order_by(AuditEntry.id)
    last = list(entry)[-1]
    assert last.summary == "登记换届：第一党支部任期 2023年10月1日 至 2026年10月1日"
    assert json.loads(last.after)["started_on"] == "2023-10-01"
    # The committee admin reads it too (a branch of the committee); a plain member may not.
    seen = o.branch_term(org["admin"], org["a"].id, now=NOW, settings=settings)
    assert seen.state.current.id == term.id
    refusal(Forbidden, o.branch_term, org["m1"], None, now=NOW, settings=settings)
    assert o.branch_term(org["secb"], None, now=NOW, settings=settings).state.status == "none"


def test_a_branch_records_its_own_length_and_keeps_it_for_the_next_term(org, settings):
    village = record(org, settings, started_on=date(2022, 4, 1), years=5).state.current
    assert (village.years, village.own_years, village.ends_on) == (5, True, date(2027, 4, 1))
    assert o.term_state(org["a"].id, NOW.date(), settings).status == "ok"
    later = record(org, settings, started_on=date(2026, 8, 20)).state.current
    assert (later.years, later.ends_on) == (5, date(2031, 8, 20))
    settings.terms.years = 4  # a changed default changes only branches without their own
    record(org, settings, who="secb", branch_id=org["b"].id)
    assert o.term_state(org["b"].id, NOW.date(), settings).current.ends_on == date(2027, 10, 1)
    assert o.term_state(org["a"].id, NOW.date(), settings).current.years == 5


@pytest.mark.parametrize(
    ("fields", "kind", "errcode", "message"),
    [
        (
            {"started_on": date(2026, 10, 2)},
            DomainError,
            "start_in_future",
            "换届日期 2026年10月2日 晚于今天 30 天以上。请在选举后登记，"
            "新一届任期最多可提前 30 天登记。",
        ),
        ({"years": 0}, Invalid, "invalid_years", "任期年限应为 1 到 5 年，本次为 0 年。"),
        ({"years": 6}, Invalid, "invalid_years", "任期年限应为 1 到 5 年，本次为 6 年。"),
        ({"note": "备" * 201}, Invalid, "too_long", "备注最多 200 字，本次 201 字，未保存。"),
    ],
)
def test_refused_terms_say_why_and_write_nothing(org, settings, fields, kind, errcode, message):
    caught = refusal(kind, record, org, settings, **fields)
    assert (caught.errcode, caught.message) == (errcode, message)
    assert BranchTerm.select().count() == 0 and AuditEntry.select().count() == 0


def test_a_term_may_start_at_most_the_configured_days_ahead(org, settings):
    assert record(org, settings, started_on=date(2026, 10, 1)).state.status == "ok"
    settings.terms.start_ahead_days = 0
    caught = refusal(DomainError, record, org, settings, started_on=date(2026, 10, 2))
    assert caught.errcode == "start_in_future"


def test_a_new_term_must_start_after_the_current_one_and_only_managers_record(org, settings):
    record(org, settings)
    for day in (STARTED, date(2021, 1, 1)):
        caught = refusal(Conflict, record, org, settings, started_on=day)
        assert caught.errcode == "not_after_current"
        assert caught.message == "本届任期自 2023年10月1日 起，新一届的开始日期应晚于它。"
    for who, branch in (("m1", "a"), ("col", "a"), ("pro", "a"), ("secb", "a")):
        refusal(Forbidden, record, org, settings, who=who, branch_id=org[branch].id)
    assert record(org, settings, who="admin", started_on=date(2026, 8, 1)).state.status == "ok"
    assert BranchTerm.select().count() == 2


# ---- terms: reminders and the committee's flags ----------------------------------------------


def term_rows(settings: Any, day: date) -> list[Any]:
    return reminders.term_reminders(at_nine(day), settings)


def test_the_branch_committee_is_reminded_6_and_3_months_before_the_term_ends(org, settings):
    term = record(org, settings, now=datetime(2023, 10, 8, 10, tzinfo=SH)).state.current
    assert term_rows(settings, date(2026, 3, 31)) == []
    rows = term_rows(settings, date(2026, 4, 1))
    committee = {org[k].id for k in ("sec", "org", "pro", "dis")}
    assert {r.target_id for r in rows} == committee  # not the collector nor plain members
    assert {(r.kind, r.period, r.branch_id) for r in rows} == {("term_due", f"{term.id}:6", 1)}
    text = next(r.payload["text"] for r in rows if r.target_id == org["sec"].id)
    assert text == (
        "王书记同志：【换届提醒】第一党支部委员会本届任期自 2023年10月1日 起，将于 "
        "2026年10月1日 届满（还有 183 天）。请提前向上级党组织报告，做好换届选举的准备；"
        "选举后请在控制台或小程序中登记新一届任期。"
    )
    assert enqueue_many(rows, now=at_nine(date(2026, 4, 1))) == 4
    # The next days (a missed day caught up too) add nothing until the 3-month stage.
    assert enqueue_many(term_rows(settings, date(2026, 4, 2)), now=NOW) == 0
    assert enqueue_many(term_rows(settings, date(2026, 6, 30)), now=NOW) == 0
    late = term_rows(settings, date(2026, 7, 1))
    assert {r.period for r in late} == {f"{term.id}:3"}
    assert enqueue_many(late, now=NOW) == 4
    assert enqueue_many(term_rows(settings, date(2026, 9, 30)), now=NOW) == 0
    assert term_rows(settings, date(2026, 10, 1)) == []  # ended: the committee's flag now
    assert OutboxMessage.select().where(OutboxMessage.kind == "term_due").count() == 8


def test_a_term_recorded_late_gets_only_its_nearest_reminder_and_months_are_settings(
    org, settings
):
    term = record(org, settings).state.current  # ends 2026-10-01, a month away on NOW
    assert {r.period for r in term_rows(settings, NOW.date())} == {f"{term.id}:3"}
    settings.terms.remind_last_months = 1
    settings.terms.remind_first_months = 2
    assert term_rows(settings, date(2026, 7, 31)) == []
    assert {r.period for r in term_rows(settings, date(2026, 8, 1))} == {f"{term.id}:2"}
    assert {r.period for r in term_rows(settings, date(2026, 9, 1))} == {f"{term.id}:1"}


def committee_text(settings: Any, day: date, admin_id: int) -> list[str]:
    """The admin's digest lines but the study plan's (no topics are loaded here)."""
    rows = reminders.committee_digests(at_nine(day), settings)
    text = next((r.payload["text"] for r in rows if r.target_id == admin_id), "")
    return [x for x in text.splitlines()[1:] if not x.startswith("· 学习计划")]


def test_the_committee_hears_of_terms_ended_or_never_recorded_until_one_is(org, settings):
    f.member("党务甲", org["a"], roles="affairs_staff")
    f.member("党务乙", org["b"], roles="affairs_staff,organizer")
    record(org, settings)
    lines = committee_text(settings, date(2026, 9, 30), org["admin"].id)
    assert lines == ["· 换届：第二党支部未登记换届信息，请督促登记本届任期"]
    record(org, settings, who="secb", branch_id=org["b"].id, started_on=date(2024, 5, 1))
    assert committee_text(settings, date(2026, 9, 30), org["admin"].id) == []
    lines = committee_text(settings, date(2026, 10, 1), org["admin"].id)
    assert lines == [
        "· 换届：第一党支部（2026年10月1日届满）届期已满尚未换届，请督促按期换届并登记新一届任期"
    ]
    assert committee_text(settings, date(2026, 10, 20), org["admin"].id) == lines
    record(org, settings, started_on=date(2026, 10, 18), now=at_nine(date(2026, 10, 20)))
    assert committee_text(settings, date(2026, 10, 20), org["admin"].id) == []
    states = o.term_states(date(2026, 10, 20), settings, org["a"].committee_id)
    assert {b: s.status for b, s in states.items()} == {org["a"].id: "ok", org["b"].id: "ok"}


def test_branches_without_a_party_affairs_staffer_are_named_to_the_committee(org, settings):
    for br in ("a", "b"):
        record(org, settings, who="secb" if br == "b" else "sec", branch_id=org[br].id)
    lines = committee_text(settings, NOW.date(), org["admin"].id)
    assert lines == [
        "· 党务工作人员：第一党支部、第二党支部未指定党务专职人员，请在花名册“职务”中指定"
    ]
    f.member("党务甲", org["a"], roles="affairs_staff")
    f.member("前党务", org["b"], roles="dues_collector")  # another role is not the staffer
    lines = committee_text(settings, NOW.date(), org["admin"].id)
    assert lines == ["· 党务工作人员：第二党支部未指定党务专职人员，请在花名册“职务”中指定"]
    health = o.committee_organization(org["admin"], now=NOW, settings=settings, limit=20, offset=0)
    assert [(b.name, b.affairs_staff, b.flags) for b in health.branches] == [
        ("第一党支部", True, 0),
        ("第二党支部", False, 1),
    ]
    refusal(
        Forbidden,
        o.committee_organization,
        org["sec"],
        now=NOW,
        settings=settings,
        limit=20,
        offset=0,
    )


# ---- lost contact: the follow-up -------------------------------------------------------------


def quiet(br: Any, name: str) -> Any:
    """A party member for a long time who has not been in touch for four months."""
    return f.member(name, br, created_at=LONG_AGO, last_active_at=NOW - timedelta(days=120))


def digest_lost(settings: Any, day: date, secretary_id: int) -> str:
    rows = reminders.secretary_digests(at_nine(day), settings)
    text = next((r.payload["text"] for r in rows if r.target_id == secretary_id), "")
    return next((x for x in text.splitlines() if "失联" in x), "")


def outcome(org: dict[str, Any], settings: Any, member: Any, kind: str, day: date, **kw: Any):
    return o.record_outcome(
        org[kw.pop("who", "sec")],
        member.id,
        outcome=kind,
        happened_on=day,
        now=at_nine(kw.pop("on", day)),
        settings=settings,
        **kw,
    )


def test_a_handled_case_leaves_the_digest_and_a_still_lost_one_comes_back_after_30_days(
    org, settings
):
    lost, away = quiet(org["a"], "失联甲"), quiet(org["a"], "流动乙")
    day = NOW.date()
    assert digest_lost(settings, day, org["sec"].id).startswith("· 失联：失联甲、流动乙 已 90 天")
    case = outcome(org, settings, lost, "lost", day, note="电话停机，已托社区寻找")
    assert (case.open, case.reopens_on, case.last.outcome.outcome_label) == (
        False,
        date(2026, 10, 1),
        "仍未联系上",
    )
    outcome(org, settings, away, "away", day, place="广东省深圳市南山区")
    assert digest_lost(settings, day, org["sec"].id) == ""
    assert digest_lost(settings, date(2026, 9, 30), org["sec"].id) == ""
    assert digest_lost(settings, date(2026, 10, 1), org["sec"].id) == (
        "· 失联：失联甲 已 90 天以上没有任何互动，请联系"
    )
    assert "流动乙" in digest_lost(settings, date(2027, 2, 28), org["sec"].id)
    # Nothing about membership changes: both stay full members.
    assert {m.status for m in (lost, away)} == {"full"}
    assert {type(lost).get_by_id(m.id).status for m in (lost, away)} == {"full"}
    entry = (
        AuditEntry.select().where(AuditEntry.action == "contact.outcome").order_by(AuditEntry.id)
    )
    assert [e.summary for e in entry] == [
        "登记失联党员联系结果：失联甲 仍未联系上",
        "登记失联党员联系结果：流动乙 流动党员（广东省深圳市南山区）",
    ]


def test_contacted_resets_the_case_and_the_reopening_spans_are_settings(org, settings):
    member = quiet(org["a"], "联系丙")
    outcome(org, settings, member, "reached", date(2026, 8, 25), on=NOW.date())
    assert digest_lost(settings, date(2026, 11, 22), org["sec"].id) == ""
    assert "联系丙" in digest_lost(settings, date(2026, 11, 23), org["sec"].id)  # 90 days on
    other = quiet(org["a"], "程序丁")
    outcome(org, settings, other, "stopping", NOW.date())
    assert "程序丁" not in digest_lost(settings, date(2026, 11, 29), org["sec"].id)
    assert "程序丁" in digest_lost(settings, date(2026, 11, 30), org["sec"].id)
    settings.lost_contact.stopping_reopen_days = 120
    assert "程序丁" not in digest_lost(settings, date(2026, 11, 30), org["sec"].id)
    # A member in touch again after the outcome is no case at all, whatever the span.
    type(other).update(last_active_at=at_nine(date(2026, 11, 1))).where(
        type(other).id == other.id
    ).execute()
    assert "程序丁" not in digest_lost(settings, date(2027, 1, 5), org["sec"].id)


def test_the_branch_list_shows_open_cases_first_with_their_last_outcome(org, settings):
    first, second = quiet(org["a"], "甲"), quiet(org["a"], "乙")
    quiet(org["b"], "外支部")
    outcome(org, settings, first, "lost", date(2026, 8, 30), note="仍在寻找")
    page = o.branch_cases(org["sec"], None, now=NOW, settings=settings, limit=20, offset=0)
    assert [(c.member.name, c.open) for c in page.cases] == [("乙", True), ("甲", False)]
    assert (page.total, page.open_count, page.days) == (2, 1, 90)
    assert page.cases[1].last.outcome.note == "仍在寻找"
    assert page.cases[1].last.recorded_by.name == "王书记"
    by_admin = o.branch_cases(
        org["admin"], org["a"].id, now=NOW, settings=settings, limit=1, offset=1
    )
    assert [c.member.name for c in by_admin.cases] == ["甲"] and by_admin.total == 2
    refusal(
        Forbidden, o.branch_cases, org["m1"], None, now=NOW, settings=settings, limit=20, offset=0
    )
    assert second.status == "full"


@pytest.mark.parametrize(
    ("kind", "day", "extra", "error", "message"),
    [
        (
            "lost",
            date(2026, 9, 2),
            {},
            Invalid,
            "联系结果的日期 2026年9月2日 晚于今天，请填写已经发生的日期。",
        ),
        (
            "lost",
            date(2026, 6, 2),
            {},
            Invalid,
            "联系结果的日期应在最近 90 天内（2026年6月3日 以后），请填写这次跟进的日期。",
        ),
        ("away", date(2026, 9, 1), {}, Invalid, "请填写所在地。"),
        (
            "moved",
            date(2026, 9, 1),
            {},
            Invalid,
            "联系结果应为以下之一：联系上、流动党员、仍未联系上、已启动停止党籍程序。",
        ),
        (
            "lost",
            date(2026, 9, 1),
            {"note": "说" * 201},
            Invalid,
            "说明最多 200 字，本次 201 字，未保存。",
        ),
        (
            "away",
            date(2026, 9, 1),
            {"place": "地" * 101},
            Invalid,
            "所在地最多 100 字，本次 101 字，未保存。",
        ),
    ],
)
def test_refused_outcomes_say_why_and_write_nothing(
    org, settings, kind, day, extra, error, message
):
    member = quiet(org["a"], "失联甲")
    caught = refusal(
        error,
        o.record_outcome,
        org["sec"],
        member.id,
        outcome=kind,
        happened_on=day,
        now=NOW,
        settings=settings,
        **extra,
    )
    assert caught.message == message
    assert ContactOutcome.select().count() == 0 and AuditEntry.select().count() == 0


def test_an_outcome_only_for_a_flagged_member_of_a_branch_one_manages(org, settings):
    lost_b = quiet(org["b"], "外支部")
    day = NOW.date()
    caught = refusal(DomainError, outcome, org, settings, org["m1"], "reached", day)
    assert caught.errcode == "not_flagged"
    assert caught.message == "张党员最近 90 天内有互动，不在失联党员名单中，无需登记联系结果。"
    refusal(NotFound, outcome, org, settings, lost_b, "lost", day)  # another branch's member
    ghost = type(lost_b).select().count() + 100
    with pytest.raises(NotFound):
        o.record_outcome(
            org["sec"], ghost, outcome="lost", happened_on=day, now=NOW, settings=settings
        )
    lost_a = quiet(org["a"], "失联甲")
    refusal(Forbidden, outcome, org, settings, lost_a, "lost", day, who="m1")
    refusal(Forbidden, outcome, org, settings, lost_a, "lost", day, who="col")
    assert ContactOutcome.select().count() == 0
    assert outcome(org, settings, lost_b, "lost", day, who="admin").open is False


def test_the_committee_sees_open_cases_as_counts_per_branch(org, settings):
    for br in ("a", "b"):
        f.member(f"党务{br}", org[br], roles="affairs_staff")
        record(org, settings, who="secb" if br == "b" else "sec", branch_id=org[br].id)
    handled = quiet(org["a"], "已跟进")
    quiet(org["a"], "甲一")
    quiet(org["a"], "甲二")
    quiet(org["b"], "乙一")
    outcome(org, settings, handled, "away", NOW.date(), place="上海")
    lines = committee_text(settings, NOW.date(), org["admin"].id)
    assert lines == ["· 失联党员：第一党支部 2 人、第二党支部 1 人失联尚未跟进，请督促支部联系"]
    for name in ("已跟进", "甲一", "乙一"):
        assert name not in "".join(lines)
    health = o.branches_health(NOW, settings, org["a"].committee_id)
    assert [b.lost_contact_open for b in health] == [2, 1]


def test_the_jobs_and_digests_read_in_a_constant_number_of_queries(org, settings, monkeypatch):
    def grow(n: int) -> int:
        for i in range(n):
            br = f.branch(f"支部{n}-{i}", org["a"].committee)
            sec = f.member(
                f"书记{n}-{i}", br, roles="secretary,affairs_staff", created_at=LONG_AGO
            )
            quiet(br, f"失联{n}-{i}")
            o.record_term(sec, None, started_on=STARTED, now=NOW, settings=settings)
        with counting_queries(monkeypatch) as seen:
            reminders.term_reminders(at_nine(date(2026, 7, 1)), settings)
            reminders.committee_digests(at_nine(date(2026, 10, 2)), settings)
            reminders.secretary_digests(at_nine(date(2026, 10, 2)), settings)
            o.branches_health(NOW, settings, org["a"].committee_id)
        return len(seen)

    assert grow(2) == grow(12)


# ---- the demo ---------------------------------------------------------------------------------


def test_the_demo_has_terms_one_ending_within_months_and_a_followed_up_case(conn, settings):
    from handlers.demo import SECRETARY_PHONE, seed
    from models.org import Member

    seed(settings)
    seed(settings)  # idempotent
    now = datetime.now(SH)
    admin = Member.get(Member.phone == "13800000011")
    health = o.committee_organization(admin, now=now, settings=settings, limit=20, offset=0)
    first, second = health.branches
    assert (first.name, first.term.status, first.affairs_staff) == ("第一党支部", "ok", True)
    assert (second.term.status, second.affairs_staff) == ("due_soon", False)
    assert 0 < second.term.days_left <= 183
    assert (first.lost_contact_open, second.lost_contact_open) == (1, 0)
    assert BranchTerm.select().count() == 2
    secretary = Member.get(Member.phone == SECRETARY_PHONE)
    cases = o.branch_cases(secretary, None, now=now, settings=settings, limit=20, offset=0)
    assert [(c.member.name, c.open) for c in cases.cases] == [("林芳", True), ("马建军", False)]
    assert cases.cases[1].last.outcome.place == "浙江省杭州市"
    rows = reminders.term_reminders(now, settings)
    assert {r.branch_id for r in rows} == {second.branch_id} and rows
