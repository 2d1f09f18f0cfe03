"""Developing members in process: every step in order with the member's status moving, every
time rule on pinned dates (the talk within a month, a year as activist, reviews every six
months, probation a year, its extension), every refusal's words with nothing written, who may
see whom, the secretary's reminders ahead of each deadline and the digest's overdue lines."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import development as d
from handlers import reminders
from handlers.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from handlers.outbox import enqueue_many
from models.audit import AuditEntry
from models.development import DevelopmentRecord, DevelopmentReview
from models.org import Member
from models.outbox import OutboxMessage
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=SH)


@pytest.fixture
def org(conn: Any) -> dict[str, Any]:
    committee = f.committee("测试党委")
    a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
    return {
        "a": a,
        "b": b,
        "sec": f.member("王书记", a, roles="secretary"),
        "org": f.member("李组织", a, roles="organizer"),
        "collector": f.member("收缴员", a, roles="dues_collector"),
        "m1": f.member("张党员", a),
        "m2": f.member("刘党员", a),
        "probm": f.member("预备党员乙", a, status="probationary", joined_on=date(2026, 1, 1)),
        "secb": f.member("赵书记", b, roles="secretary"),
        "admin": f.member("钱管理员", b, roles="committee_admin"),
        "appl": f.member("申请人甲", a, status="applicant"),
        "applb": f.member("申请人丙", b, status="applicant"),
    }


def step(org, settings, name: str, on: date, who: str = "sec", person: str = "appl", **kw):
    return d.record_step(
        org[who], org[person].id, name, on=on, now=at(kw.pop("today", on)), settings=settings, **kw
    )


def status(org, key: str = "appl") -> Member:
    return Member.get_by_id(org[key].id)


def walk_to_candidate(org, settings) -> None:
    step(org, settings, "apply", date(2025, 3, 1))
    step(org, settings, "talk", date(2025, 3, 20))
    step(org, settings, "activist", date(2025, 4, 10))
    step(org, settings, "contacts", date(2025, 4, 10), contact_ids=[org["m1"].id, org["m2"].id])
    step(org, settings, "review", date(2025, 10, 1), note="表现良好")
    step(org, settings, "candidate", date(2026, 4, 10))


def test_every_step_in_order_moves_the_status_and_keeps_the_days(org, settings):
    walk_to_candidate(org, settings)
    assert status(org).status == "candidate"
    step(org, settings, "political_review", date(2026, 5, 1))
    step(org, settings, "training", date(2026, 5, 20))
    found = step(org, settings, "admit", date(2026, 6, 1))
    person = status(org)
    assert (person.status, person.joined_on, person.version) == (
        "probationary",
        date(2026, 6, 1),
        4,
    )
    assert found.probation_ends == date(2027, 6, 1)
    assert found.view.next.step == "full" and found.view.next.earliest == date(2027, 6, 1)
    done = step(org, settings, "full", date(2027, 6, 1))
    person = status(org)
    assert (person.status, person.full_on) == ("full", date(2027, 6, 1))
    assert done.view.next is None
    days = {s.step: s.on for s in done.steps}
    assert days["apply"] == date(2025, 3, 1) and days["candidate"] == date(2026, 4, 10)
    assert [c.name for c in done.contacts] == ["张党员", "刘党员"]
    assert [(r.on, r.note) for r in done.reviews] == [(date(2025, 10, 1), "表现良好")]
    actions = [e.action for e in AuditEntry.select()]
    assert actions == ["development.step"] * 10


def test_the_development_object_decision_waits_a_year_after_the_activist_decision(org, settings):
    step(org, settings, "apply", date(2025, 3, 1))
    step(org, settings, "talk", date(2025, 3, 20))
    step(org, settings, "activist", date(2025, 4, 10))
    before = DevelopmentRecord.get().candidate_on
    with pytest.raises(DomainError) as refused:
        step(org, settings, "candidate", date(2026, 4, 9))
    assert refused.value.message == (
        "申请人甲于 2025年4月10日 确定为入党积极分子，须经过至少 12 个月的培养考察，"
        "最早 2026年4月10日 才能确定为发展对象（本次填写的是 2026年4月9日）。"
    )
    assert refused.value.errcode == "too_early"
    assert (status(org).status, DevelopmentRecord.get().candidate_on) == ("activist", before)
    step(org, settings, "candidate", date(2026, 4, 10))
    assert status(org).status == "candidate"


def test_a_shorter_activist_span_is_a_setting(org, settings):
    settings.development.activist_min_months = 6
    step(org, settings, "apply", date(2025, 3, 1))
    step(org, settings, "talk", date(2025, 3, 2))
    step(org, settings, "activist", date(2025, 8, 31))
    with pytest.raises(DomainError, match="最早 2026年2月28日"):  # 31 Aug + 6 months
        step(org, settings, "candidate", date(2026, 2, 27))
    step(org, settings, "candidate", date(2026, 2, 28))


def test_full_membership_waits_for_the_probation_and_its_extension(org, settings):
    with pytest.raises(DomainError) as early:
        step(org, settings, "full", date(2026, 12, 31), person="probm", today=date(2027, 1, 5))
    assert early.value.message == (
        "预备党员乙于 2026年1月1日 接收为预备党员，预备期到 2027年1月1日 才满，"
        "转正日期不能早于 2027年1月1日（本次填写的是 2026年12月31日）。"
    )
    found = step(
        org, settings, "extend", date(2026, 12, 20), person="probm", months=6, note="学习不够"
    )
    assert found.probation_ends == date(2027, 7, 1)
    assert (found.extension_months, found.extension_reason) == (6, "学习不够")
    with pytest.raises(DomainError, match="预备期延长 6 个月，预备期到 2027年7月1日 才满"):
        step(org, settings, "full", date(2027, 6, 30), person="probm")
    with pytest.raises(Conflict, match="预备期只能延长一次"):
        step(org, settings, "extend", date(2027, 1, 2), person="probm", months=6, note="再延")
    step(org, settings, "full", date(2027, 7, 1), person="probm")
    assert status(org, "probm").status == "full"


@pytest.mark.parametrize(
    ("months", "note", "message"),
    [
        (5, "原因", "延长预备期应为 6 到 12 个月（本次填写的是 5）。"),
        (13, "原因", "延长预备期应为 6 到 12 个月（本次填写的是 13）。"),
        (None, "原因", "延长预备期应为 6 到 12 个月（本次填写的是 空）。"),
        (12, "  ", "请写明延长预备期的原因。"),
    ],
)
def test_an_extension_is_six_to_twelve_months_with_a_reason(org, settings, months, note, message):
    with pytest.raises(Invalid) as refused:
        step(org, settings, "extend", date(2026, 12, 20), person="probm", months=months, note=note)
    assert refused.value.message == message
    assert DevelopmentRecord.select().count() == 0


@pytest.mark.parametrize(
    ("walk", "name", "on", "kind", "message"),
    [
        ([], "talk", date(2025, 3, 2), DomainError, "请先登记申请人甲“递交入党申请”的日期"),
        ([("apply", date(2025, 3, 1))], "talk", date(2025, 2, 28), DomainError, "早于"),
        ([("apply", date(2025, 3, 1))], "activist", date(2025, 4, 1), DomainError, "入党谈话"),
        ([("apply", date(2025, 3, 1))], "apply", date(2025, 3, 2), Conflict, "不能重复登记"),
        ([], "candidate", date(2026, 1, 1), DomainError, "只有入党积极分子才能"),
        ([], "admit", date(2026, 1, 1), DomainError, "只有发展对象才能"),
        ([], "review", date(2026, 1, 1), DomainError, "只有入党积极分子或发展对象"),
        ([], "apply", date(2026, 8, 20), Invalid, "晚于今天（2026年8月19日）"),
        ([], "leap", date(2026, 1, 1), Invalid, "步骤应为以下之一"),
    ],
)
def test_out_of_order_steps_are_refused_and_write_nothing(
    org, settings, walk, name, on, kind, message
):
    for done, day in walk:
        step(org, settings, done, day)
    records = list(DevelopmentRecord.select().dicts())
    audits = AuditEntry.select().count()
    with pytest.raises(kind, match=message):
        d.record_step(
            org["sec"], org["appl"].id, name, on=on, now=at(date(2026, 8, 19)), settings=settings
        )
    assert list(DevelopmentRecord.select().dicts()) == records
    assert AuditEntry.select().count() == audits
    assert status(org).status == "applicant"


def test_admission_needs_the_political_review_and_the_training(org, settings):
    walk_to_candidate(org, settings)
    step(org, settings, "political_review", date(2026, 5, 1))
    with pytest.raises(DomainError, match="尚未登记：集中培训。"):
        step(org, settings, "admit", date(2026, 6, 1))
    step(org, settings, "training", date(2026, 5, 20))
    with pytest.raises(DomainError, match="早于“集中培训”的日期 2026年5月20日"):
        step(org, settings, "admit", date(2026, 5, 19))
    assert status(org).status == "candidate"


@pytest.mark.parametrize(
    ("contacts", "message"),
    [
        ([], "一至两名正式党员"),
        (["m1", "m2", "sec"], "一至两名正式党员"),
        (["appl"], "不能做自己的培养联系人"),
        (["probm"], "预备党员乙不是本支部的正式党员"),
        (["secb"], "不是本支部的正式党员"),
    ],
)
def test_contacts_are_one_or_two_full_members_of_the_branch(org, settings, contacts, message):
    step(org, settings, "apply", date(2025, 3, 1))
    step(org, settings, "talk", date(2025, 3, 20))
    step(org, settings, "activist", date(2025, 4, 10))
    ids = [org[k].id for k in contacts]
    with pytest.raises(Invalid, match=message):
        step(org, settings, "contacts", date(2025, 4, 11), contact_ids=ids)
    assert DevelopmentRecord.get().contacts_on is None


def test_the_same_review_day_twice_is_refused(org, settings):
    walk_to_candidate(org, settings)
    with pytest.raises(Conflict, match="已登记申请人甲 2025年10月1日 的培养考察"):
        step(org, settings, "review", date(2025, 10, 1))
    assert DevelopmentReview.select().count() == 1


def test_only_the_branchs_own_managers_see_and_record(org, settings):
    now = at(date(2026, 8, 19))
    with pytest.raises(NotFound):
        d.person_detail(org["secb"], org["appl"].id, now=now, settings=settings)
    with pytest.raises(NotFound):  # the committee admin sees counts only
        d.record_step(
            org["admin"], org["appl"].id, "apply", on=date(2026, 8, 1), now=now, settings=settings
        )
    for who in ("m1", "collector"):
        with pytest.raises(Forbidden, match="只有本支部的书记、副书记或组织委员"):
            d.person_detail(org[who], org["appl"].id, now=now, settings=settings)
        with pytest.raises(Forbidden):
            d.pipeline(org[who], None, now=now, settings=settings, limit=20, offset=0)
    with pytest.raises(Forbidden):
        d.pipeline(org["sec"], org["b"].id, now=now, settings=settings, limit=20, offset=0)
    step(org, settings, "apply", date(2026, 8, 1), who="org")
    assert DevelopmentRecord.select().count() == 1


def test_the_pipeline_lists_stages_next_steps_deadlines_and_overdue_first(org, settings):
    step(org, settings, "apply", date(2026, 7, 1))  # the talk was due 1 August
    f.member("积极分子丁", org["a"], status="activist")
    now = at(date(2026, 8, 19))
    page = d.pipeline(org["sec"], None, now=now, settings=settings, limit=20, offset=0)
    assert [v.member.name for v in page.items] == ["申请人甲", "积极分子丁", "预备党员乙"]
    first = page.items[0]
    assert (first.deadline.step, first.deadline.due, first.overdue) == (
        "talk",
        date(2026, 8, 1),
        True,
    )
    assert (first.next.step, first.days_left) == ("talk", -18)
    assert page.stages == {"applicant": 1, "activist": 1, "candidate": 0, "probationary": 1}
    assert page.overdue == 1
    probation = page.items[2]
    assert (probation.deadline.step, probation.deadline.due) == ("full", date(2027, 1, 1))
    only = d.pipeline(
        org["sec"], None, stage="probationary", now=now, settings=settings, limit=20, offset=0
    )
    assert [v.member.name for v in only.items] == ["预备党员乙"]
    late = d.pipeline(
        org["sec"], None, overdue=True, now=now, settings=settings, limit=20, offset=0
    )
    assert [v.member.name for v in late.items] == ["申请人甲"]


def test_a_member_sees_their_own_record_without_the_review_findings(org, settings):
    walk_to_candidate(org, settings)
    mine = d.my_development(status(org), now=at(date(2026, 8, 19)), settings=settings)
    assert [(r.on, r.note) for r in mine.reviews] == [(date(2025, 10, 1), "")]
    assert mine.view.stage_label == "发展对象"
    nothing = d.my_development(org["m1"], now=at(date(2026, 8, 19)), settings=settings)
    assert nothing.view.next is None and nothing.reviews == []


def test_the_committee_counts_people_per_stage_and_overdue_per_branch(org, settings):
    step(org, settings, "apply", date(2026, 7, 1))
    counts = d.committee_development(org["admin"], now=at(date(2026, 8, 19)), settings=settings)
    assert counts[org["a"].id].stages == {
        "applicant": 1,
        "activist": 0,
        "candidate": 0,
        "probationary": 1,
    }
    assert (counts[org["a"].id].overdue, counts[org["b"].id].total) == (1, 1)
    with pytest.raises(Forbidden):
        d.committee_development(org["sec"], now=at(date(2026, 8, 19)), settings=settings)


# ---- time rules of the deadlines ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_", "fields", "step_", "due"),
    [
        ("applicant", {"applied_on": date(2026, 1, 31)}, "talk", date(2026, 2, 28)),
        ("activist", {"activist_on": date(2026, 1, 10)}, "review", date(2026, 7, 10)),
        (
            "candidate",
            {"activist_on": date(2025, 1, 10), "last_review_on": date(2026, 3, 1)},
            "review",
            date(2026, 9, 1),
        ),
        ("probationary", {"admitted_on": date(2024, 2, 29)}, "full", date(2025, 2, 28)),
        (
            "probationary",
            {"admitted_on": date(2025, 5, 1), "extension_months": 12},
            "full",
            date(2027, 5, 1),
        ),
    ],
)
def test_each_deadline(settings, status_, fields, step_, due):
    found = d.rules.deadline(d.Days(status_, **fields), settings)
    assert (found.step, found.due) == (step_, due)


# ---- the secretary's reminders and digest ---------------------------------------------------


def _texts(rows) -> list[str]:
    return [r.payload["text"] for r in rows]


def test_reminders_go_to_the_secretary_ahead_of_each_deadline_once(org, settings):
    step(org, settings, "apply", date(2026, 9, 1), today=date(2026, 9, 1))  # talk due 1 Oct
    cand = f.member("积极分子丁", org["a"], status="activist")
    DevelopmentRecord.create(member=cand, activist_on=date(2025, 9, 30), contacts_on=None)
    DevelopmentRecord.create(member=org["probm"], admitted_on=date(2026, 1, 1))
    # 23 September: the talk in 8 days (lead 7): nothing yet; the activist's year is
    # complete on 30 September (lead 7): reminded.
    rows = reminders.development_reminders(at(date(2026, 9, 23), 9), settings)
    assert [(r.target_id, r.period) for r in rows] == [
        (org["sec"].id, f"{cand.id}:candidate:2026-09-30")
    ]
    assert "积极分子丁于 2025年9月30日 确定为入党积极分子" in rows[0].payload["text"]
    rows = reminders.development_reminders(at(date(2026, 9, 24), 9), settings)
    assert sorted(r.period.split(":", 1)[1] for r in rows) == [
        "candidate:2026-09-30",
        "talk:2026-10-01",
    ]
    assert "应在 2026年10月1日 前（还剩 7 天）派人谈话" in _texts(rows)[-1] or any(
        "还剩 7 天" in t for t in _texts(rows)
    )
    assert enqueue_many(rows, now=at(date(2026, 9, 24), 9)) == 2
    again = reminders.development_reminders(at(date(2026, 9, 25), 9), settings)
    assert enqueue_many(again, now=at(date(2026, 9, 25), 9)) == 0  # one per deadline
    assert OutboxMessage.select().count() == 2
    # The review of the activist: due 30 March 2026 (six months after the decision) passed,
    # so no reminder ahead (it is the digest's); probation ends 1 January 2027 (lead 30 days).
    rows = reminders.development_reminders(at(date(2026, 12, 2), 9), settings)
    assert [r.period for r in rows] == [f"{org['probm'].id}:full:2027-01-01"]
    assert "预备期将于 2027年1月1日 期满" in rows[0].payload["text"]
    assert reminders.development_reminders(at(date(2026, 12, 1), 9), settings) == []


def test_a_review_is_reminded_fourteen_days_ahead(org, settings):
    person = f.member("积极分子戊", org["a"], status="activist")
    record = DevelopmentRecord.create(member=person, activist_on=date(2026, 1, 15))
    DevelopmentReview.create(record=record, on=date(2026, 4, 1))
    assert reminders.development_reminders(at(date(2026, 9, 16), 9), settings) == []
    rows = reminders.development_reminders(at(date(2026, 9, 17), 9), settings)
    assert [r.period for r in rows] == [f"{person.id}:review:2026-10-01"]
    assert "上次考察：2026年4月1日" in rows[0].payload["text"]


def test_overdue_steps_are_lines_of_the_secretarys_digest(org, settings):
    step(org, settings, "apply", date(2026, 7, 1), today=date(2026, 7, 1))
    person = f.member("积极分子丁", org["a"], status="activist")
    DevelopmentRecord.create(member=person, activist_on=date(2026, 1, 10))
    now = at(date(2026, 8, 19), 8)
    alerts = reminders.secretary_alerts(now, settings)
    lines = reminders.digest_lines(alerts[org["a"].id], date(2026, 8, 19), settings)
    assert (
        "发展党员：申请人甲 于 2026年7月1日 递交入党申请，谈话已逾期 18 天（应于 8月1日 前）"
        in lines
    )
    assert "发展党员：积极分子丁 培养考察已逾期 40 天（应于 7月10日 前）" in lines
    digest = [r for r in reminders.secretary_digests(now, settings) if r.branch_id == org["a"].id]
    assert digest and "发展党员：申请人甲" in digest[0].payload["text"]
    assert org["b"].id not in alerts or not alerts[org["b"].id].development


def test_the_probation_line_of_the_digest_follows_an_extension(org, settings):
    now = at(date(2026, 12, 10), 8)
    lines = reminders.digest_lines(
        reminders.secretary_alerts(now, settings)[org["a"].id], date(2026, 12, 10), settings
    )
    assert "转正：预备党员乙 预备期将于 1月1日 到期，请按程序讨论转正" in lines
    DevelopmentRecord.create(
        member=org["probm"],
        admitted_on=date(2026, 1, 1),
        extension_months=6,
        extended_on=date(2026, 12, 1),
    )
    alerts = reminders.secretary_alerts(now, settings).get(org["a"].id)
    assert alerts is None or not alerts.probation


def test_the_reminders_read_the_same_number_of_times_for_more_branches(
    conn, settings, monkeypatch
):
    from tests.support.queries import counting_queries

    now = at(date(2026, 9, 24), 9)

    def grow(n: int) -> None:
        for i in range(n):
            br = f.branch(f"支部{i:03d}-{n}")
            f.member(f"书记{i}-{n}", br, roles="secretary")
            person = f.member(f"申请人{i}-{n}", br, status="applicant")
            DevelopmentRecord.create(member=person, applied_on=date(2026, 9, 1))
            active = f.member(f"积极分子{i}-{n}", br, status="activist")
            record = DevelopmentRecord.create(member=active, activist_on=date(2026, 1, 1))
            DevelopmentReview.create(record=record, on=date(2026, 3, 1))

    def count() -> int:
        with counting_queries(monkeypatch) as seen:
            assert reminders.development_reminders(now, settings)
        return len(seen)

    grow(3)
    small = count()
    grow(30)
    assert count() == small


# ---- the roster's development columns -------------------------------------------------------

HEADER = (
    "姓名,手机号,支部,发展阶段,申请入党日期,确定积极分子日期,确定发展对象日期,接收预备党员日期\n"
)


def _roster(tmp_path, *rows: str):
    path = tmp_path / "名册.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_roster_imports_the_stage_and_its_days(conn, settings, tmp_path):
    from handlers.roster import import_roster

    now = at(date(2026, 8, 19))
    path = _roster(
        tmp_path,
        "申请人甲,13900000001,第一党支部,入党申请人,2026-07-01,,,",
        "积极分子乙,13900000002,第一党支部,入党积极分子,2025-01-02,2025-03-01,,",
        "预备丙,13900000003,第一党支部,预备党员,2024-01-02,2024-03-01,2025-03-05,2026-03-01",
    )
    report = import_roster(path, "测试党委", now=now, settings=settings)
    assert (report.created, report.updated) == (3, 0)
    by_name = {m.name: m for m in Member.select()}
    assert by_name["预备丙"].joined_on == date(2026, 3, 1)
    record = DevelopmentRecord.get(member=by_name["积极分子乙"].id)
    assert (record.applied_on, record.activist_on) == (date(2025, 1, 2), date(2025, 3, 1))
    page = d.pipeline(
        f.member("书记", by_name["预备丙"].branch, roles="secretary"),
        None,
        now=now,
        settings=settings,
        limit=20,
        offset=0,
    )
    assert page.stages == {"applicant": 1, "activist": 1, "candidate": 0, "probationary": 1}
    again = import_roster(path, "测试党委", now=now, settings=settings)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = _roster(tmp_path, "申请人甲,13900000001,第一党支部,入党申请人,2026-07-02,,,")
    assert import_roster(changed, "测试党委", now=now, settings=settings).updated == 1
    assert DevelopmentRecord.get(member=by_name["申请人甲"].id).applied_on == date(2026, 7, 2)


def test_the_roster_refuses_days_out_of_order_or_beyond_the_stage(conn, settings, tmp_path):
    from handlers.roster import RosterError, import_roster

    path = _roster(
        tmp_path,
        "申请人甲,13900000001,第一党支部,入党申请人,2026-07-01,2026-07-05,,",
        "积极分子乙,13900000002,第一党支部,入党积极分子,2025-04-02,2025-03-01,,",
        "丙,13900000003,第一党支部,发展对象,2025-01-02,2025-03-01,2026-08-20,",
    )
    with pytest.raises(RosterError) as refused:
        import_roster(path, "测试党委", now=at(date(2026, 8, 19)), settings=settings)
    assert [e.message for e in refused.value.errors] == [
        "第2行：党员状态为入党申请人，不应填写确定积极分子日期“2026-07-05”",
        "第3行：确定积极分子日期“2025-03-01”早于申请入党日期“2025-04-02”",
        "第4行：确定发展对象日期“2026-08-20”晚于今天（2026-08-19），请核对",
    ]
    assert Member.select().count() == 0 and DevelopmentRecord.select().count() == 0


def test_the_demo_branch_has_people_at_each_stage_one_overdue(conn, settings):
    from handlers.demo import SECRETARY_PHONE, seed

    seed(settings)
    seed(settings)  # idempotent
    now = datetime.now(SH)
    secretary = Member.get(Member.phone == SECRETARY_PHONE)
    page = d.pipeline(secretary, None, now=now, settings=settings, limit=20, offset=0)
    stages = {v.member.name: v.member.status for v in page.items}
    assert stages == {
        "钱小雨": "applicant",
        "何晓东": "activist",
        "林思远": "candidate",
        "刘洋": "probationary",
    }
    overdue = {v.member.name for v in page.items if v.overdue}
    assert "钱小雨" in overdue and not overdue & {"何晓东", "林思远"}  # 刘洋's depends on the day
    he = next(v for v in page.items if v.member.name == "何晓东")
    assert he.next.step == "candidate" and he.next_allowed
