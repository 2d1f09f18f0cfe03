"""The dues ledger as use cases: bases over time, start months, prepay and backpay, relief,
append-only corrections, the race on one month, reports, and the branch-month summary."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import dues as d
from handlers.dues import payments
from handlers.errors import DomainError
from models.base import db
from models.dues import DuesAssessment, DuesMonth, DuesPayment, DuesReport
from models.org import Branch, Committee, Member
from tests import factories as f
from tests.support.apps import make_app
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=SH)
JAN, FEB, MAR, APR, MAY, JUN = (date(2026, m, 1) for m in range(1, 7))


def m(year: int, month: int) -> date:
    return date(year, month, 1)


@pytest.fixture
def people(conn: None) -> dict[str, Any]:
    br = f.branch("第一党支部")
    return {
        "branch": br,
        "sec": f.member("书记甲", br, roles="secretary"),
        "col": f.member("收缴员乙", br, roles="dues_collector"),
        "zhang": f.member("张三", br),
        "plain": f.member("党员丁", br),
    }


def owed(member: Member, settings: dict, at: datetime = NOW) -> list[tuple[date, int]]:
    return d.member_dues(member, now=at, settings=settings).owed


def live_months(member: Member) -> list[date]:
    rows = DuesMonth.select().where(DuesMonth.member == member.id, d.live_payments())
    return sorted(r.month for r in rows)


# ---- amounts over time ----------------------------------------------------------------------


def test_a_changed_base_applies_from_its_month_on(people, settings):
    zhang, col = people["zhang"], people["col"]
    at = datetime(2026, 9, 15, 12, tzinfo=SH)
    d.set_assessment(
        col, zhang, "in_service", base_fen=800000, from_month=JAN, now=at, settings=settings
    )
    d.set_assessment(
        col,
        zhang,
        "in_service",
        base_fen=1200000,
        from_month=m(2026, 7),
        now=at,
        settings=settings,
    )
    expected = [(m(2026, k), 12000) for k in range(1, 7)] + [
        (m(2026, k), 24000) for k in (7, 8, 9)
    ]
    assert owed(zhang, settings, at) == expected
    assert sum(fen for _, fen in owed(zhang, settings, at)) == 144000
    # A correction for the same month is a new row: the newest of a month wins, history kept.
    d.set_assessment(
        col,
        zhang,
        "in_service",
        base_fen=1100000,
        from_month=m(2026, 7),
        now=at,
        settings=settings,
    )
    assert owed(zhang, settings, at)[6:] == [(m(2026, k), 22000) for k in (7, 8, 9)]
    assert DuesAssessment.select().count() == 3
    # A retirement later in the year: the retired table from then on.
    d.set_assessment(
        col, zhang, "retired", base_fen=500001, from_month=m(2026, 9), now=at, settings=settings
    )
    assert owed(zhang, settings, at)[-1] == (m(2026, 9), 5000)


def test_a_month_paid_before_a_retroactive_change_stays_paid(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    d.record_payment(col, zhang, 12000, [JAN], now=NOW, settings=settings)
    d.set_assessment(
        col, zhang, "in_service", base_fen=1200000, from_month=JAN, now=NOW, settings=settings
    )
    assert [mo for mo, _ in owed(zhang, settings)] == [FEB, MAR, APR, MAY, JUN]
    assert owed(zhang, settings)[0] == (FEB, 24000)  # 12000.00 at 2%


def test_a_probationary_member_owes_from_the_month_the_branch_accepted_them(people, settings):
    prob = f.member("预备戊", people["branch"], status="probationary", joined_on=date(2026, 3, 18))
    f.assess(prob, base_fen=300000, from_month=JAN)
    assert [mo for mo, _ in owed(prob, settings)] == [MAR, APR, MAY, JUN]
    with pytest.raises(DomainError) as caught:
        d.record_payment(people["col"], prob, 1500, [FEB], now=NOW, settings=settings)
    assert "从 2026年3月 起交纳党费（2026年3月入党）" in caught.value.message
    # Without months, a payment starts at the first owed month, March.
    recorded = d.record_payment(people["col"], prob, 3000, None, now=NOW, settings=settings)
    assert [mo for mo, _ in recorded.months] == [MAR, APR]
    # The branch's expected dues count them from March only.
    summary = {s.month: s for s in (d.branch_month_summary(x, settings)[0] for x in (FEB, MAR))}
    assert summary[FEB].expected_fen == 0 and summary[FEB].members_due == 0
    assert summary[MAR].expected_fen == 1500 and summary[MAR].members_paid == 1


def test_the_first_assessment_is_where_the_ledger_starts(people, settings):
    zhang = people["zhang"]
    assert d.member_dues(zhang, now=NOW, settings=settings).due.state == "unset"
    with pytest.raises(DomainError, match="还没有设置党费类别"):
        d.record_payment(people["col"], zhang, 12000, [JAN], now=NOW, settings=settings)
    f.assess(zhang, base_fen=800000, from_month=APR)
    assert [mo for mo, _ in owed(zhang, settings)] == [APR, MAY, JUN]


@pytest.mark.parametrize(
    ("category", "kwargs", "says"),
    [
        ("in_service", {}, "请写明张三的税后月工资"),
        ("in_service", {"base_fen": 50}, "不足 1 分"),
        ("in_service", {"base_fen": 100000001}, "超过上限"),
        ("farmer", {}, "0.20元 至 1.00元"),
        ("farmer", {"fixed_fen": 150}, "所填 1.50元"),
        ("farmer", {"fixed_fen": 10}, "0.20元 至 1.00元"),
        ("exempt", {}, "批准人"),
        ("in_service", {"base_fen": 800000, "from_month": m(2027, 8)}, "太远"),
    ],
)
def test_assessments_are_checked(people, settings, category, kwargs, says):
    kwargs = {"from_month": JAN} | kwargs
    with pytest.raises(DomainError) as caught:
        d.set_assessment(
            people["col"], people["zhang"], category, now=NOW, settings=settings, **kwargs
        )
    assert says in caught.value.message
    assert DuesAssessment.select().count() == 0


def test_only_the_secretary_or_the_collector_of_the_branch(people, settings):
    other = f.member("书记庚", f.branch("第二党支部"), roles="secretary")
    for actor, says in ((people["plain"], "只有支部书记或党费收缴员"), (other, "本支部")):
        with pytest.raises(DomainError, match=says):
            d.set_assessment(
                actor, people["zhang"], "student", from_month=JAN, now=NOW, settings=settings
            )
    admin = f.member("党委管理员", f.branch("第三党支部"), roles="committee_admin")
    d.set_assessment(admin, people["zhang"], "student", from_month=JAN, now=NOW, settings=settings)


# ---- payments: backpay, prepay, exact amounts -------------------------------------------------


def test_backpay_and_prepay_within_the_limit(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    d.record_payment(col, zhang, 36000, [JAN, FEB, MAR], now=NOW, settings=settings)  # backpay
    limit = m(2027, 6)  # 12 months after June 2026
    d.record_payment(col, zhang, 12000, [limit], now=NOW, settings=settings)
    with pytest.raises(DomainError) as caught:
        d.record_payment(col, zhang, 12000, [m(2027, 7)], now=NOW, settings=settings)
    assert "最多预交到 2027年6月（本月之后 12 个月）" in caught.value.message
    # Without months: the oldest unpaid first (April-June), then months ahead (July).
    recorded = d.record_payment(col, zhang, 48000, None, now=NOW, settings=settings)
    assert [mo for mo, _ in recorded.months] == [APR, MAY, JUN, m(2026, 7)]
    view = d.member_dues(zhang, now=NOW, settings=settings)
    assert view.owed == [] and view.owed_fen == 0
    assert view.paid == [JAN, FEB, MAR, APR, MAY, JUN, m(2026, 7), limit]


def test_prepaying_can_be_switched_off(db_url):
    app = make_app(db_url, dues={"prepay_max_months": 0})
    settings = app.config["ZHIBU"]
    with app.app_context(), db.connection_context():
        zhang = f.member("张三", roles="dues_collector")
        f.assess(zhang, base_fen=800000, from_month=JAN)
        with pytest.raises(DomainError, match="最多预交到 2026年6月"):
            d.record_payment(zhang, zhang, 12000, [m(2026, 7)], now=NOW, settings=settings)
        with pytest.raises(DomainError, match="不能正好对应"):
            d.record_payment(zhang, zhang, 12000 * 7, None, now=NOW, settings=settings)


def test_the_sum_must_match_the_months_to_the_fen(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=500001, from_month=JAN)  # 75.00 a month
    with pytest.raises(DomainError) as caught:
        d.record_payment(col, zhang, 22501, [JAN, FEB, MAR], now=NOW, settings=settings)
    message = caught.value.message
    assert "应交 225.00元" in message and "每月 75.00元" in message and "225.01元 不符" in message
    assert "自愿" in message and "收党费 张三 0.01 自愿" in message
    with pytest.raises(DomainError) as caught:
        d.record_payment(col, zhang, 10000, None, now=NOW, settings=settings)
    assert "欠交 2026年1-6月，共 450.00元" in caught.value.message
    assert "收党费 张三 450.00 2026年1-6月" in caught.value.message
    for bad in (0, 10000001):
        with pytest.raises(d.MoneyError):
            d.record_payment(col, zhang, bad, [JAN], now=NOW, settings=settings)
    assert DuesPayment.select().count() == 0


def test_a_duplicate_month_is_refused_with_the_existing_entry(people, settings):
    zhang, col, sec = people["zhang"], people["col"], people["sec"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    first = d.record_payment(col, zhang, 24000, [JAN, FEB], now=NOW, settings=settings)
    with pytest.raises(d.DuplicateMonth) as caught:
        d.record_payment(sec, zhang, 24000, [FEB, MAR], now=NOW, settings=settings)
    message = caught.value.message
    assert "张三 2026年2月的党费已经登记过了" in message
    assert f"记录编号 {first.payment.id}（240.00元，2026年6月10日 由 收缴员乙 登记" in message
    # the bot adds how to correct the entry; the API's answer has no bot command in it
    assert f"更正党费 {first.payment.id}" in caught.value.in_chat
    assert "更正党费" not in message
    assert live_months(zhang) == [JAN, FEB]


def test_two_collectors_racing_for_one_month_one_wins_the_other_sees_the_entry(
    people, settings, monkeypatch
):
    """The check passes for both; the unique index stops the second insert (PostgreSQL's path)."""
    zhang = people["zhang"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    stale = d.load_book(zhang)  # read before the other collector's payment commits
    winner = d.record_payment(people["col"], zhang, 12000, [MAR], now=NOW, settings=settings)
    real = d.load_book
    calls = []

    def first_stale(member: Member) -> d.Book:
        calls.append(member.id)
        return stale if len(calls) == 1 else real(member)

    monkeypatch.setattr(payments, "load_book", first_stale)
    with pytest.raises(d.DuplicateMonth) as caught:
        d.record_payment(people["sec"], zhang, 12000, [MAR], now=NOW, settings=settings)
    assert len(calls) == 2  # planned on the stale book, then told from the fresh one
    assert f"记录编号 {winner.payment.id}" in caught.value.message
    assert DuesPayment.select().count() == 1 and live_months(zhang) == [MAR]


def test_a_correction_is_a_new_entry_and_frees_the_months(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    wrong = d.record_payment(col, zhang, 24000, [JAN, FEB], now=NOW, settings=settings)
    with pytest.raises(DomainError, match="请写明更正原因"):
        d.reverse_payment(col, wrong.payment.id, " ", now=NOW)
    with pytest.raises(DomainError, match="只有支部书记"):
        d.reverse_payment(people["plain"], wrong.payment.id, "错了", now=NOW)
    entry = d.reverse_payment(col, wrong.payment.id, "月份登记错误", now=NOW)
    assert entry.amount_fen == -24000 and entry.reverses_id == wrong.payment.id
    assert live_months(zhang) == []
    with pytest.raises(DomainError, match="已经更正过了"):
        d.reverse_payment(people["sec"], wrong.payment.id, "再来一次", now=NOW)
    with pytest.raises(DomainError, match="本身就是一条更正记录"):
        d.reverse_payment(col, entry.id, "撤销更正", now=NOW)
    with pytest.raises(DomainError, match="没有编号为 999"):
        d.reverse_payment(col, 999, "不存在", now=NOW)
    again = d.record_payment(col, zhang, 24000, [JAN, FEB], now=NOW, settings=settings)
    assert live_months(zhang) == [JAN, FEB]
    # Nothing was edited: three entries, the months of both payments kept with their seq.
    assert [p.amount_fen for p in DuesPayment.select().order_by(DuesPayment.id)] == [
        24000,
        -24000,
        24000,
    ]
    seqs = sorted((r.month, r.seq, r.payment_id) for r in DuesMonth.select())
    assert seqs == [
        (JAN, 0, wrong.payment.id),
        (JAN, 1, again.payment.id),
        (FEB, 0, wrong.payment.id),
        (FEB, 1, again.payment.id),
    ]


def test_voluntary_payments_are_kept_apart(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    big = d.record_voluntary(col, zhang, 100000, now=NOW, settings=settings)
    small = d.record_voluntary(col, zhang, 99999, now=NOW, settings=settings)
    assert d.goes_up_whole(big, settings) and not d.goes_up_whole(small, settings)
    assert DuesMonth.select().count() == 0
    assert len(owed(zhang, settings)) == 6  # no month is paid by a voluntary payment
    assert d.branch_month_summary(JAN, settings)[0].collected_fen == 0


# ---- hardship relief ------------------------------------------------------------------------


def test_an_exemption_stops_arrears_and_the_count(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    assert len(owed(zhang, settings)) == 6
    assert d.member_lapse(zhang, NOW, settings).dues_months == 5  # Jan-May, June not over
    with pytest.raises(DomainError, match="须经上级党委批准"):
        d.set_relief(col, zhang, "exempt", [MAR, m(2026, 12)], now=NOW, settings=settings)
    d.set_relief(
        col,
        zhang,
        "exempt",
        d.month_span(MAR, m(2026, 12)),
        approved_by="机关党委",
        reason="大病",
        now=NOW,
        settings=settings,
    )
    assert owed(zhang, settings) == [(JAN, 12000), (FEB, 12000)]
    assert d.member_lapse(zhang, NOW, settings).dues_months == 0  # May is exempt: run ends
    with pytest.raises(DomainError) as caught:
        d.record_payment(col, zhang, 12000, [APR], now=NOW, settings=settings)
    assert "免交党费（困难减免，机关党委批准）" in caught.value.message
    # A reduction for some of those months, then a cancellation: the newest row decides.
    d.set_relief(
        col,
        zhang,
        "reduce",
        [MAY, JUN],
        amount_fen=500,
        approved_by="机关党委",
        now=NOW,
        settings=settings,
    )
    assert owed(zhang, settings)[-2:] == [(MAY, 500), (JUN, 500)]
    d.set_relief(col, zhang, "cancel", [JUN], now=NOW, settings=settings)
    assert owed(zhang, settings)[-1] == (JUN, 12000)
    # A reduction never raises the amount above the table's.
    d.set_relief(
        col,
        zhang,
        "reduce",
        [JUN],
        amount_fen=50000,
        approved_by="机关党委",
        now=NOW,
        settings=settings,
    )
    assert owed(zhang, settings)[-1] == (JUN, 12000)


def test_the_exempt_category_needs_an_approver_and_owes_nothing(people, settings):
    zhang = people["zhang"]
    d.set_assessment(
        people["col"],
        zhang,
        "exempt",
        from_month=JAN,
        approved_by="机关党委",
        now=NOW,
        settings=settings,
    )
    view = d.member_dues(zhang, now=NOW, settings=settings)
    assert view.due.state == "exempt" and view.owed == []
    assert d.member_lapse(zhang, NOW, settings).dues_months == 0


# ---- a member's own report ------------------------------------------------------------------


def test_a_report_waits_for_the_collector(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    with pytest.raises(DomainError, match="不能正好对应"):
        d.report_payment(zhang, 10000, None, now=NOW, settings=settings)
    report, plan = d.report_payment(zhang, 24000, None, now=NOW, settings=settings)
    assert [mo for mo, _ in plan] == [JAN, FEB] and live_months(zhang) == []
    with pytest.raises(DomainError, match="还在等待党费收缴员确认"):
        d.report_payment(zhang, 12000, [MAR], now=NOW, settings=settings)
    with pytest.raises(DomainError, match="只有支部书记"):
        d.confirm_report(people["plain"], "张三", now=NOW, settings=settings)
    member, recorded = d.confirm_report(col, "张三", now=NOW, settings=settings)
    assert recorded.payment.report_id == report.id and recorded.payment.source == "report"
    assert live_months(zhang) == [JAN, FEB]
    assert DuesReport.get_by_id(report.id).status == "confirmed"
    with pytest.raises(DomainError, match="没有待确认"):
        d.confirm_report(col, "张三", now=NOW, settings=settings)
    second, _ = d.report_payment(zhang, 12000, [APR], now=NOW, settings=settings)
    d.reject_report(col, "张三", "未收到款项", now=NOW)
    assert DuesReport.get_by_id(second.id).decision_note == "未收到款项"
    assert live_months(zhang) == [JAN, FEB]


def test_confirming_a_report_whose_month_was_paid_meanwhile_writes_nothing(people, settings):
    zhang, col = people["zhang"], people["col"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    d.report_payment(zhang, 12000, [MAR], now=NOW, settings=settings)
    d.record_payment(people["sec"], zhang, 12000, [MAR], now=NOW, settings=settings)
    with pytest.raises(d.DuplicateMonth):
        with db.atomic():  # as the dispatcher runs a handler
            d.confirm_report(col, "张三", now=NOW, settings=settings)
    assert d.pending_report(zhang) is not None and DuesPayment.select().count() == 1


# ---- names ----------------------------------------------------------------------------------


def test_unknown_names_get_the_closest_matches(people):
    br = people["branch"]
    f.member("张珊", br)
    f.member("李四", br)
    with pytest.raises(DomainError) as caught:
        d.find_member(br, "张山", d.PAY_EXAMPLE)
    message = caught.value.message
    assert "没有名为“张山”的党员。您是不是要找：" in message
    assert {"张三", "张珊"} <= set(message.split("要找：")[1].split("？")[0].split("、"))
    assert "李四" not in message and "收党费 张" in message
    with pytest.raises(DomainError, match="也没有相近的姓名"):
        d.find_member(br, "欧阳修", d.PAY_EXAMPLE)
    twin = f.member("张三", br, phone="13800000009")
    with pytest.raises(DomainError, match="有 2 位“张三”，请改用手机号"):
        d.find_member(br, "张三", d.PAY_EXAMPLE)
    assert d.find_member(br, "138-0000-0009", d.PAY_EXAMPLE).id == twin.id
    with pytest.raises(DomainError, match="没有手机号为 13900000000"):
        d.find_member(br, "13900000000", d.PAY_EXAMPLE)


# ---- the branch-month summary ---------------------------------------------------------------


def _branches(comm: Committee, start: int, stop: int) -> dict[int, tuple[int, int]]:
    """Branches with 3 assessed members; member 0 paid, member 1 not, member 2 exempt."""
    expected = {}
    with db.atomic():
        for i in range(start, stop):
            br = f.branch(f"支部{i:03d}", comm)
            base = 300000 + i * 100  # 3000.00 + i yuan: 1% from i = 1 on
            rate_fen = d.monthly_amount("in_service", base, None, f_settings())
            people = [f.member(f"党员{i}-{k}", br) for k in range(3)]
            for p in people[:2]:
                f.assess(p, base_fen=base, from_month=JAN)
            f.assess(people[2], "exempt", None, from_month=JAN, approved_by="党委")
            f.pay(people[0], MAR, amount_fen=rate_fen)
            f.member(f"积极分子{i}", br, status="activist")
            expected[br.id] = (2 * rate_fen, rate_fen)
    return expected


def f_settings() -> dict:
    from core.config import defaults

    return defaults()


def test_branch_month_summary_runs_a_constant_number_of_queries(conn, settings, monkeypatch):
    comm = f.committee("第一党委")
    expected = _branches(comm, 0, 3)
    with counting_queries(monkeypatch) as seen:
        rows = d.branch_month_summary(MAR, settings)
    few = len(seen)
    assert {r.branch_id: (r.expected_fen, r.collected_fen) for r in rows} == expected
    assert all(r.rate == Decimal("0.5000") for r in rows)
    assert all((r.members_due, r.members_paid, r.members_exempt) == (2, 1, 1) for r in rows)

    expected |= _branches(comm, 3, 30)
    assert Branch.select().count() == 30
    with counting_queries(monkeypatch) as seen:
        rows = d.branch_month_summary(MAR, settings)
    assert len(seen) == few == 5
    assert {r.branch_id: (r.expected_fen, r.collected_fen) for r in rows} == expected

    other = f.committee("第二党委")
    lonely = f.branch("空支部", other)
    with counting_queries(monkeypatch) as seen:
        only = d.branch_month_summary(MAR, settings, committee_id=other.id)
    assert len(seen) == 5
    assert [(r.branch_id, r.expected_fen, r.rate) for r in only] == [(lonely.id, 0, None)]
    assert d.branch_month_summary(APR, settings, committee_id=comm.id)[0].collected_fen == 0


def test_reversed_payments_are_not_collected(people, settings):
    zhang = people["zhang"]
    f.assess(zhang, base_fen=800000, from_month=JAN)
    p = f.pay(zhang, MAR, amount_fen=12000)
    assert d.branch_month_summary(MAR, settings)[0].collected_fen == 12000
    d.reverse_payment(people["col"], p.id, "重复登记", now=NOW)
    summary = d.branch_month_summary(MAR, settings)[0]
    assert (summary.collected_fen, summary.expected_fen, summary.rate) == (0, 12000, Decimal(0))
