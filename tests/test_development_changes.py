"""Correcting and removing recorded development steps, in process: a corrected day, contacts,
findings or extension under the rules that recording obeys (each refusal's words, nothing
written), 入党日期 and 转正日期 following the step that set them, only the latest step removed
with its status moved back, who may do it, and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import development as d
from handlers.errors import DomainError, Forbidden, NotFound
from models.audit import AuditEntry
from models.development import DevelopmentRecord, DevelopmentReview
from models.org import Member
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2027, 8, 1, 10, 0, tzinfo=SH)


@pytest.fixture
def org(conn: Any) -> dict[str, Any]:
    committee = f.committee("测试党委")
    a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
    return {
        "a": a,
        "sec": f.member("王书记", a, roles="secretary"),
        "org": f.member("李组织", a, roles="organizer"),
        "m1": f.member("张党员", a),
        "m2": f.member("刘党员", a),
        "m3": f.member("陈党员", a),
        "secb": f.member("赵书记", b, roles="secretary"),
        "admin": f.member("钱管理员", b, roles="committee_admin"),
        "appl": f.member("申请人甲", a, status="applicant"),
    }


def step(org, settings, name: str, on: date, **kw) -> d.Detail:
    return d.record_step(org["sec"], org["appl"].id, name, on=on, now=NOW, settings=settings, **kw)


def correct(org, settings, name: str, who: str = "sec", review_on=None, **kw) -> d.Detail:
    return d.correct_step(
        org[who],
        org["appl"].id,
        name,
        d.Correction(**kw),
        review_on=review_on,
        now=NOW,
        settings=settings,
    )


def remove(org, settings, name: str, reason: str = "登记有误", who: str = "sec") -> d.Detail:
    return d.remove_step(org[who], org["appl"].id, name, reason=reason, now=NOW, settings=settings)


def person(org) -> Member:
    return Member.get_by_id(org["appl"].id)


def days(found: d.Detail) -> dict[str, date | None]:
    return {s.step: s.on for s in found.steps}


def walk(org, settings, to: str = "full") -> None:
    """申请人甲 from the application up to ``to``."""
    steps = [
        ("apply", date(2025, 3, 1), {}),
        ("talk", date(2025, 3, 20), {}),
        ("activist", date(2025, 4, 10), {}),
        ("contacts", date(2025, 4, 20), {"contact_ids": [org["m1"].id]}),
        ("review", date(2025, 10, 1), {"note": "表现良好"}),
        ("candidate", date(2026, 4, 10), {}),
        ("political_review", date(2026, 5, 1), {}),
        ("training", date(2026, 5, 20), {}),
        ("admit", date(2026, 6, 1), {}),
        ("full", date(2027, 6, 1), {}),
    ]
    for name, on, kw in steps:
        step(org, settings, name, on, **kw)
        if name == to:
            return


def snapshot() -> tuple[Any, ...]:
    return (
        list(DevelopmentRecord.select().dicts()),
        list(DevelopmentReview.select().dicts()),
        list(Member.select().dicts()),
        AuditEntry.select().count(),
    )


def test_a_corrected_day_contacts_and_findings_are_kept_and_audited(org, settings):
    walk(org, settings, "candidate")
    found = correct(org, settings, "talk", on=date(2025, 3, 25))
    assert days(found)["talk"] == date(2025, 3, 25)
    found = correct(org, settings, "contacts", contact_ids=(org["m2"].id, org["m3"].id))
    assert [c.name for c in found.contacts] == ["刘党员", "陈党员"]
    found = correct(
        org, settings, "review", review_on=date(2025, 10, 1), on=date(2025, 10, 8), note="很好"
    )
    assert [(r.on, r.note) for r in found.reviews] == [(date(2025, 10, 8), "很好")]
    entries = list(AuditEntry.select().where(AuditEntry.action == "development.step_correct"))
    assert [e.summary for e in entries] == [
        "更正发展党员步骤：申请人甲 入党谈话（2025年3月20日 → 2025年3月25日）",
        "更正发展党员步骤：申请人甲 指定培养联系人（2025年4月20日）",
        "更正发展党员步骤：申请人甲 培养考察（2025年10月1日 → 2025年10月8日）",
    ]
    assert '"talked_on": "2025-03-20"' in entries[0].before
    assert '"talked_on": "2025-03-25"' in entries[0].after
    assert person(org).status == "candidate"


def test_correcting_the_admission_moves_the_day_of_joining_with_it(org, settings):
    walk(org, settings, "full")
    correct(org, settings, "full", on=date(2027, 6, 5))
    correct(org, settings, "admit", on=date(2026, 6, 3))
    p = person(org)
    assert (p.joined_on, p.full_on, p.status) == (date(2026, 6, 3), date(2027, 6, 5), "full")


@pytest.mark.parametrize(
    ("name", "kw", "errcode", "message"),
    [
        (
            "candidate",
            {"on": date(2026, 4, 9)},
            "too_early",
            "申请人甲于 2025年4月10日 确定为入党积极分子，须经过至少 12 个月的培养考察，最早 "
            "2026年4月10日 才能确定为发展对象（本次填写的是 2026年4月9日）。",
        ),
        (
            "activist",
            {"on": date(2025, 4, 11)},
            "too_early",
            "申请人甲已于 2026年4月10日 确定为发展对象，确定为入党积极分子须在其前至少 12 个月，"
            "最晚 2025年4月10日（本次填写的是 2025年4月11日）。",
        ),
        (
            "apply",
            {"on": date(2025, 3, 21)},
            "out_of_order",
            "“入党谈话”的日期 2025年3月20日 早于“递交入党申请”的日期 2025年3月21日，请核对。",
        ),
        (
            "talk",
            {"on": date(2025, 2, 28)},
            "out_of_order",
            "“入党谈话”的日期 2025年2月28日 早于“递交入党申请”的日期 2025年3月1日，请核对。",
        ),
        (
            "full",
            {"on": date(2027, 5, 31)},
            "too_early",
            "预备期到 2027年6月1日 才满，转正日期不能早于 2027年6月1日（本次填写的是 "
            "2027年5月31日）。",
        ),
        (
            "admit",
            {"on": date(2026, 6, 2)},
            "too_early",
            "申请人甲已于 2027年6月1日 转为正式党员；按本次更正，预备期到 2027年6月2日 才满，"
            "晚于转正日期，请核对。",
        ),
        ("review", {"on": date(2025, 4, 9)}, "out_of_order", "早于“确定为入党积极分子”"),
        ("training", {"on": date(2027, 8, 2)}, "future_day", "晚于今天（2027年8月1日）"),
        ("contacts", {"contact_ids": (99_999,)}, "invalid_contacts", "不是本支部的正式党员"),
        ("talk", {"note": "补充"}, "invalid_field", "“入党谈话”没有说明可以更正。"),
        ("talk", {}, "missing_field", "请至少提供一项要更正的内容"),
        ("extend", {"on": date(2026, 7, 1)}, "not_recorded", "尚未登记申请人甲的“延长预备期”"),
    ],
)
def test_a_correction_that_breaks_a_rule_is_refused_and_writes_nothing(
    org, settings, name, kw, errcode, message
):
    walk(org, settings, "full")
    before = snapshot()
    review_on = date(2025, 10, 1) if name == "review" else None
    with pytest.raises(DomainError) as refused:
        correct(org, settings, name, review_on=review_on, **kw)
    assert refused.value.errcode == errcode and message in refused.value.message
    assert snapshot() == before


def test_an_extension_is_corrected_within_its_rules(org, settings):
    walk(org, settings, "admit")
    step(org, settings, "extend", date(2027, 5, 20), months=6, note="学习不够认真")
    found = correct(org, settings, "extend", months=8, note="仍需考察")
    assert (found.extension_months, found.extension_reason) == (8, "仍需考察")
    assert found.probation_ends == date(2028, 2, 1)
    before = snapshot()
    with pytest.raises(DomainError, match="延长预备期应为 6 到 12 个月（本次填写的是 13）"):
        correct(org, settings, "extend", months=13)
    with pytest.raises(DomainError, match="请写明延长预备期的原因"):
        correct(org, settings, "extend", note="  ")
    assert snapshot() == before


def test_removing_the_admission_returns_a_development_object_and_clears_the_day_of_joining(
    org, settings
):
    walk(org, settings, "admit")
    found = remove(org, settings, "admit", reason="支部党员大会表决无效，需重新召开")
    p = person(org)
    assert (p.status, p.joined_on) == ("candidate", None)
    assert days(found)["admit"] is None and found.view.next.step == "admit"
    entry = AuditEntry.get(AuditEntry.action == "development.step_remove")
    assert entry.summary == (
        "删除发展党员步骤：申请人甲 接收为预备党员（2026年6月1日），原因：支部党员大会表决无效，"
        "需重新召开"
    )
    assert '"joined_on": "2026-06-01"' in entry.before and '"status": "candidate"' in entry.after
    # The step before it is now the latest, and may be recorded again.
    remove(org, settings, "training")
    step(org, settings, "training", date(2026, 5, 21))
    assert person(org).status == "candidate"


def test_each_status_moving_step_removed_moves_it_back(org, settings):
    walk(org, settings, "full")
    remove(org, settings, "full")
    p = person(org)
    assert (p.status, p.full_on, p.joined_on) == ("probationary", None, date(2026, 6, 1))
    for name in ("admit", "training", "political_review"):
        remove(org, settings, name)
    remove(org, settings, "candidate")
    assert person(org).status == "activist"
    for name in ("review", "contacts", "activist"):
        remove(org, settings, name)
    assert person(org).status == "applicant"
    remove(org, settings, "talk")
    found = remove(org, settings, "apply")
    assert all(on is None for on in days(found).values()) and found.reviews == []
    assert found.view.next.step == "apply"


def test_only_the_latest_step_is_removed_and_a_reason_is_needed(org, settings):
    walk(org, settings, "candidate")
    step(org, settings, "review", date(2026, 5, 1), note="继续培养")  # after the candidate day
    before = snapshot()
    refusals = [
        ("candidate", "登记有误", "not_latest", "最近的一步是 2026年5月1日 的“培养考察”"),
        ("review", " ", "missing_field", "请写明删除这一步的原因。"),
        ("admit", "登记有误", "not_recorded", "尚未登记申请人甲的“接收为预备党员”"),
    ]
    for name, reason, errcode, message in refusals:
        with pytest.raises(DomainError) as refused:
            remove(org, settings, name, reason)
        assert refused.value.errcode == errcode and message in refused.value.message
    assert snapshot() == before
    found = remove(org, settings, "review")
    assert [r.on for r in found.reviews] == [date(2025, 10, 1)]
    remove(org, settings, "candidate")
    assert person(org).status == "activist"


def test_a_status_changed_on_the_roster_is_not_moved_back(org, settings):
    walk(org, settings, "activist")
    Member.update(status="candidate").where(Member.id == org["appl"].id).execute()
    before = snapshot()
    with pytest.raises(DomainError, match="目前是发展对象，不是“确定为入党积极分子”所确定的"):
        remove(org, settings, "activist")
    assert snapshot() == before


def test_only_the_branchs_own_managers_correct_and_remove(org, settings):
    walk(org, settings, "talk")
    before = snapshot()
    with pytest.raises(Forbidden):
        correct(org, settings, "talk", who="m1", on=date(2025, 3, 21))
    for who in ("secb", "admin"):
        with pytest.raises(NotFound):
            correct(org, settings, "talk", who=who, on=date(2025, 3, 21))
        with pytest.raises(NotFound):
            remove(org, settings, "talk", who=who)
    assert snapshot() == before
    correct(org, settings, "talk", who="org", on=date(2025, 3, 21))
    remove(org, settings, "talk", who="org")
    actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id)][-2:]
    assert actions == ["development.step_correct", "development.step_remove"]
    assert person(org).status == "applicant" and DevelopmentRecord.get().talked_on is None
