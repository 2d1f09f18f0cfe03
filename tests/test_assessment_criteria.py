"""The branch assessment's later criteria from constructed records, judged for November 2026
at a pinned day in December: 培训学时 (training), 发展党员 (development), 按期换届 (term) and
志愿服务 (volunteer) — each met, partly met and not applicable (a term is met or not, and
always applies) — and the stored month judged again with them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.clock import UTC
from handlers.assessment import backfill, branch_assessment, committee_assessment
from models.development import DevelopmentRecord, DevelopmentReview
from models.org import Branch, Member
from models.organization import BranchTerm
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry
from tests import factories as f
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SH)
NOV = date(2026, 11, 1)
OCT = date(2026, 10, 1)

pytestmark = pytest.mark.clock(NOW)


@pytest.fixture
def org(conn: None) -> dict[str, Any]:
    """A committee with branches A, B and C in the system since January, and its admin."""
    committee = f.committee("示范党委")
    branches = {
        k: f.branch(f"第{n}党支部", committee) for k, n in zip("abc", "一二三", strict=True)
    }
    Branch.update(created_at=datetime(2026, 1, 1, tzinfo=UTC)).execute()
    admin = f.member("管理员", branches["c"], roles="committee_admin", status="applicant")
    return {**branches, "admin": admin}


def judged(org: dict[str, Any], name: str, settings: Any, month: date = NOV) -> dict:
    """{branch key: (the criterion's text, its rate or None when it does not apply)}."""
    view = committee_assessment(org["admin"], month, now=NOW, settings=settings)
    keys = {org[k].id: k for k in "abc"}
    out = {}
    for score in view.rows:
        part = next(p for p in score.parts if p.name == name)
        out[keys[score.branch_id]] = (part.measure.text, part.rate)
    return out


# ---- 培训学时 ---------------------------------------------------------------------------------


def trained(member: Member, day: date, minutes: int) -> None:
    TrainingRecord.create(
        member=member, branch=member.branch_id, title="县委党校培训", day=day, minutes=minutes
    )


def test_training_is_the_share_of_the_hours_due_by_the_month_end(org, settings):
    """The bar to November is 32 × 11 / 12 = 29⅓ hours (1,760 minutes) a party member."""
    a1, a2 = f.member("甲一", org["a"]), f.member("甲二", org["a"], status="probationary")
    trained(a1, date(2026, 3, 10), 1800)  # over the bar: counts 1,760
    meet(org["a"], "lesson", datetime(2026, 11, 20, 14, 0, tzinfo=SH), 120, present=[a2])
    trained(a2, date(2026, 12, 1), 600)  # after the month: not yet
    trained(a2, date(2025, 12, 20), 600)  # last year's
    f.member("甲申请人", org["a"], status="applicant")  # not a party member: no bar
    b1 = f.member("乙一", org["b"])
    trained(b1, date(2026, 1, 15), 1000)
    trained(b1, date(2026, 11, 30), 760)
    found = judged(org, "training", settings)
    assert found["a"] == ("达到进度 1/2 人，计入 31.3/58.7 学时", pytest.approx(1880 / 3520))
    assert found["b"] == ("达到进度 1/1 人，计入 29.3/29.3 学时", 1.0)
    assert found["c"] == ("没有党员", None)  # only an applicant
    # October's bar is 26⅔ hours: B's member had 1,000 minutes by then.
    october = judged(org, "training", settings, OCT)
    assert october["b"] == ("达到进度 0/1 人，计入 16.7/26.7 学时", pytest.approx(1000 / 1600))


# ---- 发展党员 ---------------------------------------------------------------------------------


def person(branch: Branch, status: str, reviews: tuple[date, ...] = (), **days: date) -> Member:
    member = f.member(br=branch, status=status)
    record = DevelopmentRecord.create(member=member, **days)
    for day in reviews:
        DevelopmentReview.create(record=record, on=day)
    return member


def test_development_counts_the_deadlines_of_the_month_met_on_time(org, settings):
    a, b, c = org["a"], org["b"], org["c"]
    # A: two talks due (10 and 20 November), one held in time; two reviews due, one in time
    # (15 November), one late (due 10 November, held the 25th); a 转正 due 12 November,
    # recorded the 28th (转正 cannot come before the day: within the month is on time).
    person(a, "activist", applied_on=date(2026, 10, 10), talked_on=date(2026, 11, 5))
    person(a, "applicant", applied_on=date(2026, 10, 20))
    person(a, "activist", (date(2026, 11, 14),), activist_on=date(2026, 5, 15))
    person(a, "candidate", (date(2026, 5, 10), date(2026, 11, 25)), activist_on=date(2025, 11, 20))
    person(a, "full", admitted_on=date(2025, 11, 12), full_on=date(2026, 11, 28))
    # Not due in November: a review held early (due 10 October, held 1 September) moved the
    # next one to March; a talk due in December; an activist from the roster without a
    # recorded talk (not judged).
    person(a, "activist", (date(2026, 9, 1),), activist_on=date(2026, 4, 10))
    person(a, "applicant", applied_on=date(2026, 11, 20))
    person(a, "activist", applied_on=date(2026, 10, 5), activist_on=date(2026, 11, 1))
    # B: a probationary member (joined 3 November 2025, no record) not discussed; another's
    # probation extended by 6 months in May, 转正 on the extended end, 3 November.
    f.member(br=b, status="probationary", joined_on=date(2025, 11, 3))
    person(
        b,
        "full",
        admitted_on=date(2025, 5, 3),
        extended_on=date(2026, 5, 6),
        extension_months=6,
        full_on=date(2026, 11, 3),
    )
    # C: an activist admitted on 10 November owes no review due on the 20th.
    person(c, "probationary", activist_on=date(2026, 5, 20), admitted_on=date(2026, 11, 10))
    found = judged(org, "development", settings)
    assert found["a"] == ("按期 3/5 项（谈话 1/2、考察 1/2、转正 1/1）", pytest.approx(3 / 5))
    assert found["b"] == ("按期 1/2 项（转正 1/2）", 0.5)
    assert found["c"] == ("本月没有到期的发展党员工作", None)
    # May: B's extension decided on the 6th, after the first probation ended on the 3rd, is
    # still within the month; A's activist of 15 May had nothing due yet.
    may = judged(org, "development", settings, date(2026, 5, 1))
    assert may["b"] == ("按期 1/1 项（转正 1/1）", 1.0)
    assert may["a"] == ("按期 1/1 项（考察 1/1）", 1.0)  # the candidate's review of 10 May


# ---- 按期换届 ---------------------------------------------------------------------------------


def test_term_is_met_while_the_term_is_current_at_the_month_end(org, settings):
    BranchTerm.create(branch=org["a"], started_on=date(2024, 3, 1))
    BranchTerm.create(branch=org["b"], started_on=date(2023, 11, 10))  # ended 10 November
    BranchTerm.create(branch=org["c"], started_on=date(2026, 12, 1))  # after the month
    found = judged(org, "term", settings)
    assert found["a"] == ("任期内（2027年3月1日届满）", 1.0)
    assert found["b"] == ("任期已于2026年11月10日届满，未换届", 0.0)
    assert found["c"] == ("未登记换届信息", 0.0)
    assert judged(org, "term", settings, OCT)["b"] == ("任期内（2026年11月10日届满）", 1.0)


def test_term_renewed_late_is_missed_in_its_month_and_met_after(org, settings):
    BranchTerm.create(branch=org["a"], started_on=date(2021, 10, 1), years=5)  # ended 1 Oct
    BranchTerm.create(branch=org["a"], started_on=date(2026, 11, 8))
    BranchTerm.create(branch=org["b"], started_on=date(2023, 11, 20))  # ends 20 November
    BranchTerm.create(branch=org["b"], started_on=date(2026, 11, 18))  # renewed in time
    october = judged(org, "term", settings, OCT)
    assert october["a"] == ("任期已于2026年10月1日届满，未换届", 0.0)
    found = judged(org, "term", settings)
    assert found["a"] == ("上届2026年10月1日届满，2026年11月8日才换届", 0.0)
    assert found["b"] == ("任期内（2029年11月18日届满）", 1.0)  # [terms] years: 3


# ---- 志愿服务 ---------------------------------------------------------------------------------


def served(member: Member, day: date, minutes: int, status: str = "confirmed") -> None:
    VolunteerEntry.create(
        member=member,
        branch=member.branch_id,
        day=day,
        minutes=minutes,
        description="社区清扫",
        status=status,
    )


def test_volunteer_is_the_share_of_the_expected_hours_served(org, settings):
    a1, a2 = f.member("甲一", org["a"]), f.member("甲二", org["a"])
    served(a1, date(2026, 11, 7), 180)  # three hours: one counts
    served(a2, date(2026, 11, 14), 120, status="pending")  # not confirmed
    served(a2, date(2026, 11, 21), 60, status="rejected")
    served(a2, date(2026, 10, 31), 60)  # October's
    b1 = f.member("乙一", org["b"])
    served(b1, date(2026, 11, 1), 30)
    served(b1, date(2026, 11, 30), 30)
    served(f.member(br=org["c"], status="applicant"), date(2026, 11, 7), 60)  # no party member
    found = judged(org, "volunteer", settings)
    assert found["a"] == ("参加 1/2 人，计入 1/2 小时", 0.5)
    assert found["b"] == ("参加 1/1 人，计入 1/1 小时", 1.0)
    assert found["c"] == ("没有党员", None)
    settings.assessment.volunteer_hours_per_member = 2
    backfill(NOV, NOV, committee_name="示范党委", now=NOW, settings=settings)
    again = judged(org, "volunteer", settings)
    assert again["a"] == ("参加 1/2 人，计入 2/4 小时", 0.5)
    assert again["b"] == ("参加 1/1 人，计入 1/2 小时", 0.5)


# ---- judged again with them -------------------------------------------------------------------


def test_a_stored_month_judged_again_counts_the_later_records(org, settings):
    secretary = f.member("甲书记", org["a"], roles="secretary")
    before = branch_assessment(secretary, None, NOV, now=NOW, settings=settings)
    term = next(p for p in before.score.parts if p.name == "term")
    assert term.measure.text == "未登记换届信息" and term.rate == 0.0
    BranchTerm.create(branch=org["a"], started_on=date(2025, 6, 1))
    kept = branch_assessment(secretary, None, NOV, now=NOW, settings=settings)
    assert kept.score.score == before.score.score  # stored: a late record waits for a backfill
    backfill(OCT, NOV, committee_name="示范党委", now=NOW, settings=settings)
    after = branch_assessment(secretary, None, NOV, now=NOW, settings=settings)
    term = next(p for p in after.score.parts if p.name == "term")
    assert term.measure.text == "任期内（2028年6月1日届满）" and term.rate == 1.0
    assert after.score.score > before.score.score
    assert after.trend[-2].parts[6].measure.text == "任期内（2028年6月1日届满）"  # October
