"""The console's dues pages over HTTP: the month grid, recording, confirming, sending back and
reversing payments, categories and bases, and who may see them; the same records as the API's
use cases, and a grid whose query count does not grow with the members."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.clock import utcnow
from handlers import dues as d
from handlers.errors import Forbidden
from models.base import db
from models.dues import DuesAssessment, DuesMonth, DuesPayment, DuesReport
from tests import factories as f
from tests.support.console import link_for, login, post
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG = (date(2026, m, 1) for m in range(1, 9))
MONTHLY = 12000  # 8000.00 a month in service: 1.5%


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    """Branch A: a secretary, a collector, an organizer and three members paying from January
    2026 (one exempt by category, one with relief); branch B: a secretary and a member."""
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        people = {
            "sec": f.member("王书记", a, roles="secretary"),
            "collector": f.member("钱收缴员", a, roles="dues_collector"),
            "organizer": f.member("孙组织", a, roles="organizer"),
            "admin": f.member("赵管理员", a, roles="committee_admin"),
            "plain": f.member("周党员", a),
            "zhang": f.member("张三", a),
            "li": f.member("李四", a),
            "wu": f.member("吴五", a),
            "secb": f.member("郑书记", b, roles="secretary"),
            "mb": f.member("冯党员", b),
        }
        for key in ("zhang", "li", "mb"):
            f.assess(people[key], base_fen=800000, from_month=JAN)
        f.assess(people["wu"], "exempt", approved_by="测试党委")
    return {"a": a, "b": b, **people}


def url(org: dict[str, Any], tail: str = "", branch: str = "a") -> str:
    return f"/console/branch/{org[branch].id}/dues{tail}"


def row_states(html: str, name: str) -> list[str]:
    """The data-state of each month cell in a member's row of the grid."""
    row = re.search(rf'<th scope="row">{name}.*?</tr>', html, re.S)
    assert row, f"no row for {name}"
    return re.findall(r'data-state="(\w+)"', row.group(0))


def totals(html: str, which: str) -> list[int]:
    return [int(v) for v in re.findall(rf'data-{which}="(-?\d+)"', html)]


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p id="{field_id}-err"[^>]*>(.*?)</p>', html, re.S)
    assert found, f"no error by {field_id}"
    return found.group(1)


def in_db(app: Any, fn: Any) -> Any:
    with app.app_context(), db.connection_context():
        return fn()


def count(app: Any, model: Any) -> int:
    return in_db(app, lambda: model.select().count())


# ---- the grid ---------------------------------------------------------------------------------


def test_the_grid_shows_paid_owed_exempt_relieved_and_not_yet_due_months(app, org, settings):
    def setup() -> None:
        f.pay(org["zhang"], JAN, FEB, MAR, amount_fen=MONTHLY, by=org["collector"])
        d.set_relief(
            org["sec"],
            org["li"],
            "reduce",
            [MAY, JUN],
            amount_fen=5000,
            approved_by="测试党委",
            now=datetime(2026, 4, 1, tzinfo=SH),
            settings=settings,
        )

    in_db(app, setup)
    page = login(app, org["collector"]).get(url(org, "?year=2026"))
    assert page.status_code == 200
    html = page.text
    assert "已交" in html and "欠交" in html and "免交" in html and "减免" in html
    zhang = row_states(html, "张三")
    assert zhang == ["paid"] * 3 + ["owed"] * 5 + ["ahead"] * 4
    assert row_states(html, "李四") == ["owed"] * 8 + ["ahead"] * 4
    li_row = re.search(r'<th scope="row">李四.*?</tr>', html, re.S).group(0)
    assert li_row.count("relieved") == 2 and "50.00元" in li_row and "120.00元" in li_row
    assert row_states(html, "吴五") == ["exempt"] * 12
    assert row_states(html, "王书记") == ["unset"] * 12  # no category yet: amount unknown
    assert "未设置党费类别" in html
    last_year = login(app, org["sec"]).get(url(org, "?year=2025")).text
    assert row_states(last_year, "张三") == ["before"] * 12
    # Each month's sums are the dues package's own summary of that month.
    expected, collected = totals(html, "expected"), totals(html, "collected")

    def summaries() -> list[Any]:
        return [
            d.branch_month_summary(date(2026, n, 1), settings, branch_id=org["a"].id)[0]
            for n in range(1, 13)
        ]

    want = in_db(app, summaries)
    assert expected == [s.expected_fen for s in want]
    assert collected == [s.collected_fen for s in want]
    assert collected[:4] == [MONTHLY, MONTHLY, MONTHLY, 0]
    assert expected[4] == MONTHLY + 5000


def test_the_last_twelve_months_by_default(app, org):
    html = login(app, org["sec"]).get(url(org)).text
    assert "近 12 个月" in html and "2025年<br>9月" in html
    assert row_states(html, "张三") == ["before"] * 4 + ["owed"] * 8


# ---- recording a payment ----------------------------------------------------------------------


def _fields(payment: DuesPayment) -> dict[str, Any]:
    months = DuesMonth.select().where(DuesMonth.payment == payment.id).order_by(DuesMonth.month)
    return {
        "kind": payment.kind,
        "amount_fen": payment.amount_fen,
        "source": payment.source,
        "note": payment.note,
        "report": payment.report_id,
        "reverses": payment.reverses_id,
        "recorded_by": payment.recorded_by_id,
        "recorded_on": payment.recorded_at.astimezone(SH).date(),
        "months": [(m.month, m.amount_fen) for m in months],
    }


def test_a_payment_recorded_in_the_form_is_the_api_handlers_record(app, org, settings):
    client = login(app, org["collector"])
    done = post(
        client,
        url(org, "/payments"),
        {
            "member_id": org["zhang"].id,
            "kind": "dues",
            "amount": "360.00",
            "months": "2026年1-3月",
            "note": "现金",
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(url(org, "/payments"))
    page = client.get(url(org, "/payments")).text
    assert "已登记：张三 2026年1-3月党费 360.00元" in page
    ledger = page.split('class="dues-ledger"')[1]
    assert "张三" in ledger and "钱收缴员" in ledger and "收缴员登记" in ledger

    def by_api() -> tuple[dict[str, Any], dict[str, Any]]:
        d.collect(
            org["collector"],
            org["li"].id,
            "dues",
            36000,
            [JAN, FEB, MAR],
            now=utcnow(),
            settings=settings,
            note="现金",
        )
        web, api = DuesPayment.select().order_by(DuesPayment.id)
        return _fields(web), _fields(api)

    web, api = in_db(app, by_api)
    assert web == api
    assert web["months"] == [(JAN, MONTHLY), (FEB, MONTHLY), (MAR, MONTHLY)]
    grid = client.get(url(org, "?year=2026")).text
    assert row_states(grid, "张三")[:4] == ["paid", "paid", "paid", "owed"]


def test_a_voluntary_payment_and_the_oldest_months_without_naming_them(app, org):
    client = login(app, org["sec"])
    form = {"member_id": org["li"].id, "kind": "dues", "amount": "240", "months": ""}
    assert post(client, url(org, "/payments"), form).status_code == 302
    assert "已登记：李四 2026年1-2月党费 240.00元" in client.get(url(org, "/payments")).text
    form = {"member_id": org["li"].id, "kind": "voluntary", "amount": "1,000.00", "months": ""}
    assert post(client, url(org, "/payments"), form).status_code == 302
    assert "自愿交纳 1000.00元" in client.get(url(org, "/payments")).text


def test_a_bad_amount_shows_the_message_by_the_field_and_writes_nothing(app, org):
    client = login(app, org["collector"])
    form = {"member_id": org["zhang"].id, "amount": "12.345", "months": "2026年1月"}
    refused = post(client, url(org, "/payments"), form)
    assert refused.status_code == 400
    assert "只能精确到分" in field_error(refused.text, "pay-amount")
    assert 'value="12.345"' in refused.text and 'value="2026年1月"' in refused.text
    assert f'<option value="{org["zhang"].id}" selected>' in refused.text
    mismatch = post(client, url(org, "/payments"), {**form, "amount": "100.00"})
    assert mismatch.status_code == 400 and "不符" in field_error(mismatch.text, "pay-amount")
    months = post(client, url(org, "/payments"), {**form, "amount": "120", "months": "十三月"})
    assert months.status_code == 400 and field_error(months.text, "pay-months")
    nobody = post(client, url(org, "/payments"), {**form, "member_id": "", "amount": "120"})
    assert "请选择党员" in field_error(nobody.text, "pay-member")
    assert count(app, DuesPayment) == 0 and count(app, DuesMonth) == 0


# ---- members' reports -------------------------------------------------------------------------


def test_a_collector_confirms_one_report_and_sends_another_back(app, org, settings):
    def report() -> tuple[int, int]:
        now = utcnow()
        first, _ = d.report_own_payment(
            org["zhang"], 24000, [JAN, FEB], now=now, settings=settings
        )
        second, _ = d.report_own_payment(org["li"], 12000, None, now=now, settings=settings)
        return first.rows[0].id, second.rows[0].id

    zhang_report, li_report = in_db(app, report)
    client = login(app, org["collector"])
    page = client.get(url(org, "/payments")).text
    assert "报告已交 240.00元" in page and "2026年1-2月" in page and "未写月份" in page
    confirmed = post(
        client, url(org, f"/reports/{zhang_report}/confirm"), page=url(org, "/payments")
    )
    assert confirmed.status_code == 302
    sent_back = post(
        client,
        url(org, f"/reports/{li_report}/reject"),
        {"reason": "未收到款项"},
        page=url(org, "/payments"),
    )
    assert sent_back.status_code == 302
    page = client.get(url(org, "/payments")).text
    assert "已退回 李四 报告的 120.00元" in page and "没有待确认的报告" in page
    assert "党员报告、收缴员确认" in page  # the ledger entry the confirmation made

    def decided() -> tuple[Any, Any, Any]:
        return (
            DuesReport.get_by_id(zhang_report),
            DuesReport.get_by_id(li_report),
            DuesPayment.get(DuesPayment.report == zhang_report),
        )

    first, second, payment = in_db(app, decided)
    assert (first.status, first.decided_by_id) == ("confirmed", org["collector"].id)
    assert (second.status, second.decision_note) == ("rejected", "未收到款项")
    assert (payment.source, payment.amount_fen) == ("report", 24000)
    again = post(client, url(org, f"/reports/{zhang_report}/confirm"), page=url(org, "/payments"))
    assert again.status_code == 409 and "无需重复处理" in again.text


# ---- reversing --------------------------------------------------------------------------------


def test_reversing_a_payment_needs_a_reason_and_the_month_is_owed_again(app, org):
    in_db(app, lambda: f.pay(org["zhang"], JAN, amount_fen=MONTHLY, by=org["sec"]))
    pid = in_db(app, lambda: DuesPayment.get().id)
    client = login(app, org["sec"])
    assert row_states(client.get(url(org, "?year=2026")).text, "张三")[0] == "paid"
    path = url(org, f"/payments/{pid}/reverse")
    form = client.get(path)
    assert form.status_code == 200 and "要作废的记录" in form.text and "120.00元" in form.text
    refused = post(client, path, {"reason": "  "})
    assert refused.status_code == 400 and "请写明更正原因" in field_error(
        refused.text, "reverse-reason"
    )
    assert count(app, DuesPayment) == 1
    done = post(client, path, {"reason": "金额登记错误"})
    assert done.status_code == 302
    page = client.get(url(org, "/payments")).text
    assert f"已作废记录 {pid}" in page and f"已由 {pid + 1} 更正" in page
    assert row_states(client.get(url(org, "?year=2026")).text, "张三")[0] == "owed"
    reversal = in_db(app, lambda: DuesPayment.get_by_id(pid + 1))
    assert (reversal.kind, reversal.amount_fen, reversal.note) == (
        "reversal",
        -MONTHLY,
        "金额登记错误",
    )
    assert "已由" in client.get(path).text  # no second reversal offered


# ---- categories and bases ---------------------------------------------------------------------


def test_setting_a_category_and_base_keeps_the_history(app, org):
    client = login(app, org["sec"])
    path = url(org, "/categories")
    page = client.get(path)
    assert page.status_code == 200 and "未设置" in page.text and "120.00元" in page.text
    form = {
        "member_id": org["zhang"].id,
        "category": "in_service",
        "amount": "12000.00",
        "from_month": "2026年7月",
    }
    assert post(client, path, form).status_code == 302
    page = client.get(path).text
    assert "已设置张三：在职，基数 12000.00元，2026年7月起。" in page
    row = re.search(rf'<tr id="member-{org["zhang"].id}">.*?</tr>', page, re.S).group(0)
    assert "2026年7月起：在职，基数 12000.00元，每月 240.00元" in row
    assert "2026年1月起：在职，基数 8000.00元，每月 120.00元" in row
    assert "王书记" in row  # who recorded the new one
    history = in_db(
        app,
        lambda: [
            (a.from_month, a.base_fen)
            for a in DuesAssessment.select()
            .where(DuesAssessment.member == org["zhang"].id)
            .order_by(DuesAssessment.id)
        ],
    )
    assert history == [(JAN, 800000), (JUL, 1200000)]
    grid = client.get(url(org, "?year=2026")).text
    zhang = re.search(r'<th scope="row">张三.*?</tr>', grid, re.S).group(0)
    assert "240.00元" in zhang and "120.00元" in zhang


def test_a_refused_category_is_shown_by_its_field_and_writes_nothing(app, org):
    client = login(app, org["sec"])
    path = url(org, "/categories")
    before = count(app, DuesAssessment)
    base = {"member_id": org["plain"].id, "from_month": "2026年8月"}
    missing = post(client, path, {**base, "category": "in_service", "amount": ""})
    assert missing.status_code == 400 and "税后月工资" in field_error(missing.text, "set-amount")
    assert f'<option value="{org["plain"].id}" selected>' in missing.text
    unapproved = post(client, path, {**base, "category": "exempt"})
    assert "批准" in field_error(unapproved.text, "set-approver")
    bad_month = post(client, path, {**base, "category": "student", "from_month": "明年"})
    assert bad_month.status_code == 400 and field_error(bad_month.text, "set-month")
    typo = post(client, path, {**base, "category": "in_service", "amount": "8千"})
    assert "没看懂" in field_error(typo.text, "set-amount") and 'value="8千"' in typo.text
    assert count(app, DuesAssessment) == before


# ---- who may see the pages --------------------------------------------------------------------


def test_a_plain_member_cannot_log_in_to_the_console(app, org):
    with pytest.raises(Forbidden):
        link_for(app, org["plain"])


def test_other_branches_and_other_roles_are_refused(app, org):
    other = login(app, org["secb"])
    for tail in ("", "/payments", "/categories"):
        refused = other.get(url(org, tail))
        assert refused.status_code == 403 and "没有权限" in refused.text, tail
    form = {"member_id": org["zhang"].id, "amount": "120", "months": "2026年1月"}
    page = url(org, "", branch="b")
    assert post(other, url(org, "/payments"), form, page=page).status_code == 403
    # Branch B's secretary names branch A's member on their own branch's form: not found.
    assert post(other, url(org, "/payments", branch="b"), form).status_code == 404
    assert count(app, DuesPayment) == 0
    assert login(app, org["organizer"]).get(url(org)).status_code == 403
    admin = login(app, org["admin"])
    assert admin.get(url(org, "", branch="b")).status_code == 200
    assert "冯党员" in admin.get(url(org, "", branch="b")).text


def test_the_grid_runs_the_same_queries_whatever_the_number_of_members(app, org, monkeypatch):
    client = login(app, org["collector"])

    def queries() -> int:
        client.get(url(org))  # the session's last-seen time is written at most once a minute
        with counting_queries(monkeypatch) as seen:
            page = client.get(url(org))
        assert page.status_code == 200
        return len(seen)

    small = queries()

    def grow() -> None:
        for n in range(15):
            m = f.member(f"新党员{n}", org["a"])
            f.assess(m, base_fen=500000 + n * 1000, from_month=FEB)
            f.pay(m, FEB, MAR, amount_fen=5000)

    in_db(app, grow)
    large = queries()
    assert 5 < small == large, (small, large)
