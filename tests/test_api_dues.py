"""Dues through the mini-program API: a member's own dues and reports; the collectors' branch
view, confirmations, payments and reversals; who may see what; and the same records as the bot.

Real HTTP to a live app; every answer is checked against /api/v1/openapi.json.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from threading import Barrier
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers.dues import branch_month_summary
from models.dues import DuesMonth, DuesPayment, DuesReport
from tests import factories as f
from tests.support.api import Env
from tests.support.apps import make_driver

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=SH)
JAN = date(2026, 1, 1)
MONTHLY = 12000  # 8000.00 a month in service: 1.5%


def at(moment: datetime = NOW, tick: bool = False):
    return time_machine.travel(moment, tick=tick)


def err(r, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["errcode"] == errcode, body
    return body["errmsg"]


def months(*numbers: int, year: int = 2026) -> list[str]:
    return [f"{year}-{n:02d}" for n in numbers]


@pytest.fixture
def dues(env: Env) -> Env:
    """m1, m2 (branch A) and mb (branch B) pay 120.00 a month from January 2026."""
    with env.ctx():
        for key in ("m1", "m2", "mb"):
            f.assess(env.people[key], base_fen=800000, from_month=JAN)
    return env


def tokens(env: Env, *keys: str) -> dict[str, str]:
    with at():
        return {key: env.token(key) for key in keys}


def ledger(env: Env, model: Any = DuesPayment) -> list[Any]:
    with env.ctx():
        return list(model.select().order_by(model.id))


def live_months(env: Env, key: str) -> list[date]:
    with env.ctx():
        reversed_ids = DuesPayment.select(DuesPayment.reverses).where(
            DuesPayment.reverses.is_null(False)
        )
        rows = DuesMonth.select().where(
            DuesMonth.member == env.people[key].id, DuesMonth.payment.not_in(reversed_ids)
        )
        return sorted(r.month for r in rows)


# ---- a member's own dues --------------------------------------------------------------------


def test_a_member_sees_their_own_dues_with_arrears_from_last_year(env: Env):
    with env.ctx():
        m1 = env.people["m1"]
        f.assess(m1, base_fen=800000, from_month=date(2025, 11, 1))
        f.pay(m1, date(2025, 11, 1), amount_fen=MONTHLY, by=env.people["sec"])
        f.pay(m1, JAN, date(2026, 2, 1), date(2026, 3, 1), amount_fen=MONTHLY)
        act = f.member("积极分子", env.branches["A"], status="activist")
        f.bound(act, "mini-act", app="mini")
    t = tokens(env, "m1", "sec", "mini-act")
    with at():
        mine = env.api.get("/api/v1/dues/me", token=t["m1"]).json()
        unset = env.api.get("/api/v1/dues/me", token=t["sec"]).json()
        activist = env.api.get("/api/v1/dues/me", token=t["mini-act"]).json()
    assert mine["member"] == {"id": m1.id, "name": "党员丙"}
    assert mine["month"] == "2026-06" and mine["month_state"] == "owed"
    assert (mine["monthly_fen"], mine["monthly_text"]) == (12000, "120.00元")
    assert mine["category"] == {
        "code": "in_service",
        "label": "在职",
        "from_month": "2025-11",
        "base_fen": 800000,
        "base_text": "8000.00元",
    }
    assert mine["relief"] is None
    assert (mine["start_month"], mine["prepay_until"]) == ("2025-11", "2027-06")
    assert mine["paid_months"] == months(1, 2, 3)  # this year's; November 2025 is not listed
    assert (mine["paid_fen"], mine["paid_text"]) == (36000, "360.00元")
    assert [o["month"] for o in mine["owed"]] == ["2025-12", *months(4, 5, 6)]
    assert mine["owed"][0] == {"month": "2025-12", "amount_fen": 12000, "amount_text": "120.00元"}
    assert (mine["owed_fen"], mine["owed_text"]) == (48000, "480.00元")
    assert mine["pending_report"] is None
    newest, oldest = mine["recent"]
    assert [m["month"] for m in newest["months"]] == months(1, 2, 3)
    assert newest["amount_text"] == "360.00元" and newest["kind"] == "dues"
    assert oldest["recorded_by"] == {"id": env.people["sec"].id, "name": "书记甲"}

    assert unset["month_state"] == "unset" and unset["category"] is None
    assert unset["monthly_fen"] is None and unset["owed"] == []
    assert unset["recent"] == []  # the entry sec recorded is m1's, not theirs
    assert activist["month_state"] == "none" and activist["status_label"] == "入党积极分子"
    assert activist["start_month"] is None and activist["owed_fen"] == 0


def test_a_member_reports_and_a_collector_confirms(dues: Env):
    env = dues
    t = tokens(env, "m1", "sec")
    body = {"months": ["2026-02", "2026-01"], "amount_fen": 24000, "note": "微信转账"}
    with at():
        r = env.api.post("/api/v1/dues/reports", token=t["m1"], json=body)
        assert r.status_code == 201, r.text
        made = r.json()
        again = env.api.post("/api/v1/dues/reports", token=t["m1"], json={"amount_fen": 12000})
        assert "还在等待党费收缴员确认" in err(again, 409, "report_pending")
        mine = env.api.get("/api/v1/dues/me", token=t["m1"]).json()
        queue = env.api.get("/api/v1/dues/reports", token=t["sec"]).json()
    report = made["report"]
    assert report["months"] == months(1, 2) and report["status"] == "pending"
    assert report["amount_text"] == "240.00元" and report["note"] == "微信转账"
    assert report["reported_at"] == "2026-06-10T10:00:00+08:00" and report["payment_id"] is None
    assert made["months"] == [
        {"month": "2026-01", "amount_fen": 12000, "amount_text": "120.00元"},
        {"month": "2026-02", "amount_fen": 12000, "amount_text": "120.00元"},
    ]
    assert mine["pending_report"]["id"] == report["id"] and mine["owed_fen"] == 72000
    assert queue["total"] == 1 and queue["items"][0]["member"]["name"] == "党员丙"
    (row,) = ledger(env, DuesReport)
    assert (row.from_month, row.until_month, row.amount_fen) == (JAN, date(2026, 2, 1), 24000)
    assert row.status == "pending" and ledger(env) == []

    with at():
        r = env.api.post(f"/api/v1/dues/reports/{report['id']}/confirm", token=t["sec"])
        assert r.status_code == 200, r.text
        done = r.json()
        twice = env.api.post(f"/api/v1/dues/reports/{report['id']}/confirm", token=t["sec"])
        message = err(twice, 409, "report_decided")
        assert "已确认，无需重复处理" in message and "已已" not in message
        queue = env.api.get("/api/v1/dues/reports", token=t["sec"]).json()
        decided = env.api.get(
            "/api/v1/dues/reports", token=t["sec"], params={"status": "confirmed"}
        ).json()
    assert done["report"]["status"] == "confirmed"
    assert done["report"]["decided_by"] == {"id": env.people["sec"].id, "name": "书记甲"}
    assert done["report"]["payment_id"] == done["payment"]["id"]
    assert done["payment"]["source"] == "report" and done["payment"]["note"] == "微信转账"
    assert queue["total"] == 0 and decided["items"][0]["id"] == report["id"]
    (payment,) = ledger(env)
    assert payment.report_id == report["id"] and payment.recorded_by_id == env.people["sec"].id
    assert payment.amount_fen == 24000
    assert live_months(env, "m1") == [JAN, date(2026, 2, 1)]
    (row,) = ledger(env, DuesReport)
    assert row.status == "confirmed" and row.undecided is None


def test_a_report_without_months_takes_the_oldest_unpaid(dues: Env):
    env = dues
    with env.ctx():
        f.pay(env.people["m1"], JAN, amount_fen=MONTHLY)
    t = tokens(env, "m1")
    with at():
        r = env.api.post("/api/v1/dues/reports", token=t["m1"], json={"amount_fen": 24000})
    assert r.status_code == 201, r.text
    assert [m["month"] for m in r.json()["months"]] == months(2, 3)
    assert r.json()["report"]["months"] is None


@pytest.mark.parametrize(
    ("payload", "status", "errcode", "says"),
    [
        ({"months": months(4), "amount_fen": 10000}, 422, "amount_mismatch", "与所填金额"),
        ({"amount_fen": 10000}, 422, "amount_mismatch", "不能正好对应"),
        ({"months": months(1), "amount_fen": 12000}, 409, "duplicate_month", "已经登记过了"),
        (
            {"months": ["2027-07"], "amount_fen": 12000},
            422,
            "month_too_far_ahead",
            "最多预交到 2027年6月",
        ),
        ({"months": ["2025-12"], "amount_fen": 12000}, 422, "month_before_start", "起交纳党费"),
        ({"months": months(4), "amount_fen": 99999999}, 422, "amount_too_large", "超过单笔上限"),
        ({"months": months(4)}, 400, "missing_field", "amount_fen"),
        ({"months": months(4), "amount_fen": 120.5}, 400, "invalid_field", "amount_fen"),
        ({"months": months(4), "amount_fen": 12000.0}, 400, "invalid_field", "amount_fen"),
        ({"months": months(4), "amount_fen": "12000"}, 400, "invalid_field", "amount_fen"),
        ({"months": months(4), "amount_fen": -12000}, 400, "invalid_field", "amount_fen"),
        ({"months": months(4), "amount_fen": 0}, 400, "invalid_field", "amount_fen"),
        ({"months": months(4), "amount_fen": True}, 400, "invalid_field", "amount_fen"),
        ({"months": ["2026-4"], "amount_fen": 12000}, 400, "invalid_field", "months 第 1 项"),
        ({"months": ["2026/04"], "amount_fen": 12000}, 400, "invalid_field", "months"),
        ({"months": ["2026-13"], "amount_fen": 12000}, 400, "invalid_field", "不是有效的月份"),
        ({"months": ["2026-04", 5], "amount_fen": 12000}, 400, "invalid_field", "months 第 2 项"),
        ({"months": "2026-04", "amount_fen": 12000}, 400, "invalid_field", "months"),
        ({"months": [], "amount_fen": 12000}, 400, "invalid_field", "months"),
        ({"months": months(4, 4), "amount_fen": 24000}, 400, "invalid_field", "重复"),
        ({"months": months(4, 6), "amount_fen": 24000}, 400, "invalid_field", "连续"),
        ({"months": months(4), "amount_fen": 12000, "way": "微信"}, 400, "unknown_field", "way"),
        (
            {"months": months(4), "amount_fen": 12000, "note": "长" * 201},
            400,
            "invalid_field",
            "note",
        ),
    ],
)
def test_bad_reports_are_refused_saying_why_and_write_nothing(
    dues: Env, payload, status, errcode, says
):
    env = dues
    with env.ctx():
        f.pay(env.people["m1"], JAN, amount_fen=MONTHLY)
    t = tokens(env, "m1")
    with at():
        r = env.api.post("/api/v1/dues/reports", token=t["m1"], json=payload)
    assert says in err(r, status, errcode)
    assert ledger(env, DuesReport) == [] and len(ledger(env)) == 1


def test_a_member_without_a_category_or_with_nothing_due_cannot_report(dues: Env):
    env = dues
    with env.ctx():
        act = f.member("积极分子", env.branches["A"], status="activist")
        f.bound(act, "mini-act", app="mini")
    t = tokens(env, "sec", "mini-act")
    body = {"months": months(5), "amount_fen": 12000}
    with at():
        r = env.api.post("/api/v1/dues/reports", token=t["mini-act"], json=body)
        assert "只有预备党员和正式党员交纳党费" in err(r, 422, "not_party_member")
        r = env.api.post("/api/v1/dues/reports", token=t["sec"], json=body)
        assert "还没有设置党费类别" in err(r, 422, "dues_not_set")
        with env.ctx():
            f.assess(env.people["sec"], category="exempt", approved_by="测试党委")
        r = env.api.post("/api/v1/dues/reports", token=t["sec"], json={**body, "amount_fen": 20})
        assert "免交党费" in err(r, 422, "month_exempt")
        stranger = env.token("mini-stranger")
        err(env.api.post("/api/v1/dues/reports", token=stranger, json=body), 403, "not_bound")
        err(env.api.get("/api/v1/dues/me", token=stranger), 403, "not_bound")
        err(env.api.get("/api/v1/dues/me"), 401, "unauthorized")
    assert ledger(env, DuesReport) == []


def test_a_collector_sends_a_report_back_with_a_reason(dues: Env):
    env = dues
    t = tokens(env, "m1", "sec")
    with at():
        made = env.api.post(
            "/api/v1/dues/reports", token=t["m1"], json={"months": months(3), "amount_fen": 12000}
        ).json()["report"]
        path = f"/api/v1/dues/reports/{made['id']}/reject"
        assert "reason" in err(env.api.post(path, token=t["sec"], json={}), 400, "missing_field")
        assert "reason" in err(
            env.api.post(path, token=t["sec"], json={"reason": " "}), 400, "invalid_field"
        )
        r = env.api.post(path, token=t["sec"], json={"reason": "未收到款项"})
        assert r.status_code == 200, r.text
        again = env.api.post(path, token=t["sec"], json={"reason": "再退"})
        assert "已退回" in err(again, 409, "report_decided")
        confirm = env.api.post(f"/api/v1/dues/reports/{made['id']}/confirm", token=t["sec"])
        err(confirm, 409, "report_decided")
        mine = env.api.get("/api/v1/dues/me", token=t["m1"]).json()
    assert r.json()["report"]["status"] == "rejected"
    assert r.json()["report"]["decision_note"] == "未收到款项"
    (row,) = ledger(env, DuesReport)
    assert (row.status, row.decision_note, row.decided_by_id) == (
        "rejected",
        "未收到款项",
        env.people["sec"].id,
    )
    assert ledger(env) == [] and mine["pending_report"] is None


def test_confirming_a_report_whose_month_was_paid_meanwhile_is_409(dues: Env):
    env = dues
    t = tokens(env, "m1", "sec")
    with at():
        made = env.api.post(
            "/api/v1/dues/reports", token=t["m1"], json={"months": months(3), "amount_fen": 12000}
        ).json()["report"]
        paid = env.api.post(
            "/api/v1/dues/payments",
            token=t["sec"],
            json={"member_id": env.people["m1"].id, "months": months(3), "amount_fen": 12000},
        )
        assert paid.status_code == 201
        r = env.api.post(f"/api/v1/dues/reports/{made['id']}/confirm", token=t["sec"], json={})
    assert f"记录编号 {paid.json()['payment']['id']}" in err(r, 409, "duplicate_month")
    assert len(ledger(env)) == 1 and ledger(env, DuesReport)[0].status == "pending"


# ---- the collectors' payments ---------------------------------------------------------------


def test_a_collector_records_payments(dues: Env):
    env = dues
    m1 = env.people["m1"]
    t = tokens(env, "sec")
    pay = "/api/v1/dues/payments"
    with at():
        r = env.api.post(
            pay,
            token=t["sec"],
            json={"member_id": m1.id, "months": months(3, 1, 2), "amount_fen": 36000},
        )
        assert r.status_code == 201, r.text
        first = r.json()["payment"]
        dup = env.api.post(
            pay,
            token=t["sec"],
            json={"member_id": m1.id, "months": months(2), "amount_fen": 12000},
        )
        assert f"记录编号 {first['id']}" in err(dup, 409, "duplicate_month")
        wrong = env.api.post(
            pay,
            token=t["sec"],
            json={"member_id": m1.id, "months": months(4, 5), "amount_fen": 12000},
        )
        assert "应交 240.00元" in err(wrong, 422, "amount_mismatch")
        oldest = env.api.post(pay, token=t["sec"], json={"member_id": m1.id, "amount_fen": 24000})
        assert oldest.status_code == 201
        gift = env.api.post(
            pay,
            token=t["sec"],
            json={
                "member_id": m1.id,
                "kind": "voluntary",
                "amount_fen": 100000,
                "note": "特殊党费",
            },
        )
        assert gift.status_code == 201
        bad = env.api.post(
            pay,
            token=t["sec"],
            json={"member_id": m1.id, "kind": "voluntary", "months": months(6), "amount_fen": 500},
        )
        assert "months" in err(bad, 400, "invalid_field")
        assert "member_id" in err(
            env.api.post(pay, token=t["sec"], json={"amount_fen": 12000}), 400, "missing_field"
        )
        assert "kind" in err(
            env.api.post(
                pay, token=t["sec"], json={"member_id": m1.id, "kind": "cash", "amount_fen": 1}
            ),
            400,
            "invalid_field",
        )
        for bad_body, field in [
            ({"member_id": m1.id, "months": months(6), "amount_fen": 120.0}, "amount_fen"),
            ({"member_id": m1.id, "months": months(6), "amount_fen": "120.00"}, "amount_fen"),
            ({"member_id": m1.id, "months": months(6), "amount_fen": -12000}, "amount_fen"),
            ({"member_id": m1.id, "months": ["6月"], "amount_fen": 12000}, "months"),
            ({"member_id": "党员丙", "months": months(6), "amount_fen": 12000}, "member_id"),
        ]:
            assert field in err(
                env.api.post(pay, token=t["sec"], json=bad_body), 400, "invalid_field"
            )
        extra = {"member_id": m1.id, "amount_fen": 12000, "method": "现金"}
        assert "method" in err(env.api.post(pay, token=t["sec"], json=extra), 400, "unknown_field")
        listed = env.api.get(pay, token=t["sec"], params={"member_id": m1.id, "limit": 2}).json()
        gifts = env.api.get(pay, token=t["sec"], params={"kind": "voluntary"}).json()
    assert first["months"] == [
        {"month": m, "amount_fen": 12000, "amount_text": "120.00元"} for m in months(1, 2, 3)
    ]
    assert first["amount_text"] == "360.00元" and first["source"] == "collector"
    assert first["recorded_at"] == "2026-06-10T10:00:00+08:00"
    assert [m["month"] for m in oldest.json()["payment"]["months"]] == months(4, 5)
    assert gift.json()["goes_up_whole"] is True and oldest.json()["goes_up_whole"] is False
    assert gift.json()["payment"]["months"] == [] and gift.json()["payment"]["kind"] == "voluntary"
    assert listed["total"] == 3 and [e["kind"] for e in listed["items"]] == ["voluntary", "dues"]
    assert gifts["total"] == 1 and gifts["items"][0]["amount_text"] == "1000.00元"
    rows = ledger(env)
    assert [(p.kind, p.amount_fen, p.note) for p in rows] == [
        ("dues", 36000, ""),
        ("dues", 24000, ""),
        ("voluntary", 100000, "特殊党费"),
    ]
    assert all(p.recorded_by_id == env.people["sec"].id for p in rows)
    assert live_months(env, "m1") == [date(2026, k, 1) for k in range(1, 6)]


def test_a_reversal_is_a_new_entry_and_frees_the_months(dues: Env):
    env = dues
    m1 = env.people["m1"]
    t = tokens(env, "sec")
    with at():
        paid = env.api.post(
            "/api/v1/dues/payments",
            token=t["sec"],
            json={"member_id": m1.id, "months": months(1, 2), "amount_fen": 24000},
        ).json()["payment"]
        path = f"/api/v1/dues/payments/{paid['id']}/reverse"
        assert "reason" in err(env.api.post(path, token=t["sec"], json={}), 400, "missing_field")
        r = env.api.post(path, token=t["sec"], json={"reason": "月份登记错误"})
        assert r.status_code == 201, r.text
        again = env.api.post(path, token=t["sec"], json={"reason": "再次"})
        assert "已经更正过了" in err(again, 409, "already_reversed")
        reversal = r.json()["reversal"]
        back = env.api.post(
            f"/api/v1/dues/payments/{reversal['id']}/reverse", token=t["sec"], json={"reason": "x"}
        )
        assert "本身就是一条更正记录" in err(back, 422, "not_reversible")
        err(
            env.api.post(
                "/api/v1/dues/payments/999999/reverse", token=t["sec"], json={"reason": "x"}
            ),
            404,
            "not_found",
        )
        redo = env.api.post(
            "/api/v1/dues/payments",
            token=t["sec"],
            json={"member_id": m1.id, "months": months(1, 2), "amount_fen": 24000},
        )
        assert redo.status_code == 201, redo.text
    assert reversal["kind"] == "reversal" and reversal["amount_fen"] == -24000
    assert reversal["amount_text"] == "-240.00元" and reversal["reverses"] == paid["id"]
    assert r.json()["original"]["reversed_by"] == reversal["id"]
    rows = ledger(env)
    assert [(p.kind, p.amount_fen, p.reverses_id) for p in rows] == [
        ("dues", 24000, None),
        ("reversal", -24000, paid["id"]),
        ("dues", 24000, None),
    ]
    assert rows[1].note == "月份登记错误" and rows[1].source == "collector"
    assert live_months(env, "m1") == [JAN, date(2026, 2, 1)]


def test_two_collectors_recording_the_same_month_at_once_get_one_entry(dues: Env):
    """sec and the committee admin post the same month at the same moment: one 201, the rest
    409 duplicate_month naming the winning entry."""
    env = dues
    m1 = env.people["m1"]
    t = tokens(env, "sec", "admin")
    for month in (1, 2, 3):
        barrier = Barrier(4)

        def send(who: str, month: int = month, barrier: Barrier = barrier) -> Any:
            barrier.wait()
            return env.api.post(
                "/api/v1/dues/payments",
                token=t[who],
                json={"member_id": m1.id, "months": months(month), "amount_fen": 12000},
            )

        with at(tick=True), ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(send, ["sec", "admin", "sec", "admin"]))
        won = [r for r in answers if r.status_code == 201]
        lost = [r for r in answers if r.status_code == 409]
        assert len(won) == 1 and len(lost) == 3, [r.text for r in answers]
        entry = won[0].json()["payment"]["id"]
        assert all(
            r.json()["errcode"] == "duplicate_month" and f"记录编号 {entry}" in r.json()["errmsg"]
            for r in lost
        )
    assert live_months(env, "m1") == [JAN, date(2026, 2, 1), date(2026, 3, 1)]
    assert len(ledger(env)) == 3


# ---- the branch view ------------------------------------------------------------------------


def test_the_branch_view_for_a_month(dues: Env):
    env = dues
    m1, m2 = env.people["m1"], env.people["m2"]
    with env.ctx():
        f.pay(m1, *[date(2026, k, 1) for k in range(1, 7)], amount_fen=MONTHLY)
    t = tokens(env, "sec")
    with at():
        june = env.api.get("/api/v1/dues/branch", token=t["sec"]).json()
        owing = env.api.get("/api/v1/dues/branch", token=t["sec"], params={"owing": "true"}).json()
        paged = env.api.get(
            "/api/v1/dues/branch", token=t["sec"], params={"limit": 2, "offset": 1}
        ).json()
        march = env.api.get(
            "/api/v1/dues/branch", token=t["sec"], params={"month": "2026-03", "owing": "false"}
        ).json()
        bad = env.api.get("/api/v1/dues/branch", token=t["sec"], params={"month": "3月"})
        assert "month" in err(bad, 400, "invalid_field")
        assert "owing" in err(
            env.api.get("/api/v1/dues/branch", token=t["sec"], params={"owing": "yes"}),
            400,
            "invalid_field",
        )
    with env.ctx():
        (expected,) = branch_month_summary(
            date(2026, 6, 1), env.settings, branch_id=env.branches["A"].id
        )
    s = june["summary"]
    assert june["branch"] == {"id": env.branches["A"].id, "name": "第一党支部"}
    assert june["month"] == "2026-06"
    assert (s["expected_fen"], s["collected_fen"]) == (
        expected.expected_fen,
        expected.collected_fen,
    )
    assert (s["expected_fen"], s["expected_text"]) == (24000, "240.00元")
    assert (s["collected_fen"], s["collected_text"]) == (12000, "120.00元")
    assert (s["rate"], s["rate_text"]) == (0.5, "50.0%")
    assert (s["members_due"], s["members_paid"], s["members_owing"]) == (2, 1, 1)
    assert (s["members_exempt"], s["members_unset"]) == (0, 3)  # sec, new, admin: no category
    assert june["pending_reports"] == 0
    assert [(a["member"]["id"], a["reason"], a["months"]) for a in june["alerts"]] == [
        (m2.id, "dues", 5)  # January to May, the complete months
    ]
    assert june["members"]["total"] == 5
    first = june["members"]["items"][0]
    assert first["id"] == m2.id and first["month_state"] == "owed"
    assert (first["owed_fen"], first["owed_text"]) == (72000, "720.00元")
    assert [o["month"] for o in first["owed"]] == months(1, 2, 3, 4, 5, 6)
    paid = next(i for i in june["members"]["items"] if i["id"] == m1.id)
    assert paid["month_state"] == "paid" and paid["month_paid_text"] == "120.00元"
    assert paid["owed"] == [] and paid["month_due_fen"] == 12000
    assert [i["id"] for i in owing["members"]["items"]] == [m2.id]
    assert owing["members"]["total"] == 1
    assert paged["members"]["total"] == 5 and len(paged["members"]["items"]) == 2
    assert paged["members"]["offset"] == 1
    assert march["month"] == "2026-03" and march["summary"]["collected_fen"] == 12000
    assert m2.id not in [i["id"] for i in march["members"]["items"]]
    assert next(i for i in march["members"]["items"] if i["id"] == m1.id)["month_state"] == "paid"


# ---- who may see what -----------------------------------------------------------------------


def test_plain_members_may_not_use_the_collector_routes(dues: Env):
    env = dues
    with env.ctx():
        payment = f.pay(env.people["m2"], JAN, amount_fen=MONTHLY)
    t = tokens(env, "m1")
    with at():
        report = env.api.post(
            "/api/v1/dues/reports", token=t["m1"], json={"months": months(1), "amount_fen": 12000}
        ).json()["report"]
        calls = [
            ("GET", "/api/v1/dues/branch", None),
            ("GET", "/api/v1/dues/reports", None),
            ("GET", "/api/v1/dues/payments", None),
            ("POST", f"/api/v1/dues/reports/{report['id']}/confirm", {}),
            ("POST", f"/api/v1/dues/reports/{report['id']}/reject", {"reason": "x"}),
            (
                "POST",
                "/api/v1/dues/payments",
                {"member_id": env.people["m1"].id, "months": months(2), "amount_fen": 12000},
            ),
            ("POST", f"/api/v1/dues/payments/{payment.id}/reverse", {"reason": "x"}),
        ]
        for method, path, body in calls:
            r = env.api.call(method, path, token=t["m1"], json=body)
            assert "党费收缴员" in err(r, 403, "forbidden"), path
    assert len(ledger(env)) == 1 and ledger(env, DuesReport)[0].status == "pending"


def test_another_branchs_reports_payments_and_members_are_not_found(dues: Env):
    env = dues
    with env.ctx():
        payment = f.pay(env.people["m1"], JAN, amount_fen=MONTHLY)
    t = tokens(env, "m1", "secb", "secx", "sec")
    a_id, b_id = env.branches["A"].id, env.branches["B"].id
    with at():
        report = env.api.post(
            "/api/v1/dues/reports", token=t["m1"], json={"months": months(2), "amount_fen": 12000}
        ).json()["report"]
        for who in ("secb", "secx"):
            for path, body in [
                (f"/api/v1/dues/reports/{report['id']}/confirm", {}),
                (f"/api/v1/dues/reports/{report['id']}/reject", {"reason": "x"}),
                (f"/api/v1/dues/payments/{payment.id}/reverse", {"reason": "x"}),
                (
                    "/api/v1/dues/payments",
                    {"member_id": env.people["m1"].id, "months": months(3), "amount_fen": 12000},
                ),
                (
                    "/api/v1/dues/payments",
                    {"member_id": 999999, "months": months(3), "amount_fen": 12000},
                ),
            ]:
                r = env.api.post(path, token=t[who], json=body)
                assert err(r, 404, "not_found"), (who, path)
            for path in ("/api/v1/dues/branch", "/api/v1/dues/reports", "/api/v1/dues/payments"):
                r = env.api.get(path, token=t[who], params={"branch_id": a_id})
                err(r, 403, "forbidden")
            theirs = env.api.get(
                "/api/v1/dues/payments", token=t[who], params={"member_id": env.people["m1"].id}
            )
            err(theirs, 404, "not_found")
        # Their own branch's views show nothing of branch A.
        own = env.api.get("/api/v1/dues/reports", token=t["secb"]).json()
        err(env.api.post("/api/v1/dues/reports/999999/confirm", token=t["sec"]), 404, "not_found")
        err(
            env.api.get("/api/v1/dues/branch", token=t["sec"], params={"branch_id": b_id}),
            403,
            "forbidden",
        )
    assert own["total"] == 0
    assert len(ledger(env)) == 1 and ledger(env, DuesReport)[0].status == "pending"


def test_a_committee_admin_collects_for_another_branch_of_the_committee(dues: Env):
    env = dues
    mb, mx = env.people["mb"], env.people["mx"]
    with env.ctx():
        f.assess(mx, base_fen=800000, from_month=JAN)
    t = tokens(env, "admin", "mb")
    b_id = env.branches["B"].id
    with at():
        reported = env.api.post(
            "/api/v1/dues/reports", token=t["mb"], json={"months": months(1), "amount_fen": 12000}
        ).json()["report"]
        view = env.api.get("/api/v1/dues/branch", token=t["admin"], params={"branch_id": b_id})
        assert view.status_code == 200 and view.json()["branch"]["name"] == "第二党支部"
        assert view.json()["pending_reports"] == 1
        queue = env.api.get("/api/v1/dues/reports", token=t["admin"], params={"branch_id": b_id})
        assert [r["id"] for r in queue.json()["items"]] == [reported["id"]]
        confirmed = env.api.post(
            f"/api/v1/dues/reports/{reported['id']}/confirm", token=t["admin"], json={}
        )
        assert confirmed.status_code == 200, confirmed.text
        paid = env.api.post(
            "/api/v1/dues/payments",
            token=t["admin"],
            json={"member_id": mb.id, "months": months(2, 3), "amount_fen": 24000},
        )
        assert paid.status_code == 201, paid.text
        listed = env.api.get(
            "/api/v1/dues/payments", token=t["admin"], params={"branch_id": b_id}
        ).json()
        # Another committee's branch stays out of reach.
        x_id = env.branches["X"].id
        err(
            env.api.get("/api/v1/dues/branch", token=t["admin"], params={"branch_id": x_id}),
            403,
            "forbidden",
        )
        r = env.api.post(
            "/api/v1/dues/payments",
            token=t["admin"],
            json={"member_id": mx.id, "months": months(1), "amount_fen": 12000},
        )
        err(r, 404, "not_found")
    assert listed["total"] == 2
    rows = ledger(env)
    assert [(p.member_id, p.recorded_by_id, p.source) for p in rows] == [
        (mb.id, env.people["admin"].id, "report"),
        (mb.id, env.people["admin"].id, "collector"),
    ]
    assert live_months(env, "mb") == [JAN, date(2026, 2, 1), date(2026, 3, 1)]


# ---- the same records through the bot -------------------------------------------------------


def _same(api_row: dict[str, Any], bot_row: dict[str, Any], *drop: str) -> None:
    for row in (api_row, bot_row):
        for key in ("id", "member", *drop):
            row.pop(key)
    assert api_row == bot_row


def test_a_payment_through_the_api_and_the_bot_leaves_identical_records(dues: Env):
    env = dues
    m1, m2, sec = env.people["m1"], env.people["m2"], env.people["sec"]
    with env.ctx():
        f.bound(sec, "oa-sec", app="oa")
    driver = make_driver(env.settings, env.server.url)
    t = tokens(env, "sec")
    with at():
        r = env.api.post(
            "/api/v1/dues/payments",
            token=t["sec"],
            json={"member_id": m1.id, "months": months(1, 2, 3), "amount_fen": 36000},
        )
        assert r.status_code == 201, r.text
        reply = driver.send_text("oa-sec", "收党费 党员丁 360 2026年1-3月").reply
        assert reply.startswith("已登记：党员丁 2026年1-3月党费 360.00元"), reply
    with env.ctx():
        api_pay = DuesPayment.get(DuesPayment.member == m1.id)
        bot_pay = DuesPayment.get(DuesPayment.member == m2.id)
        api_months = [
            m.__data__
            for m in DuesMonth.select()
            .where(DuesMonth.payment == api_pay.id)
            .order_by(DuesMonth.month)
        ]
        bot_months = [
            m.__data__
            for m in DuesMonth.select()
            .where(DuesMonth.payment == bot_pay.id)
            .order_by(DuesMonth.month)
        ]
    assert api_pay.recorded_by_id == sec.id and api_pay.amount_fen == 36000
    _same(dict(api_pay.__data__), dict(bot_pay.__data__))
    assert len(api_months) == len(bot_months) == 3
    for a, b in zip(api_months, bot_months, strict=True):
        _same(dict(a), dict(b), "payment")


def test_a_report_and_its_confirmation_through_the_api_and_the_bot_are_identical(dues: Env):
    env = dues
    m1, m2, sec = env.people["m1"], env.people["m2"], env.people["sec"]
    with env.ctx():
        f.bound(sec, "oa-sec", app="oa")
    driver = make_driver(env.settings, env.server.url)
    t = tokens(env, "m1", "sec")
    with at():
        made = env.api.post(
            "/api/v1/dues/reports",
            token=t["m1"],
            json={"months": months(1, 2), "amount_fen": 24000},
        )
        assert made.status_code == 201, made.text
        reply = driver.send_text("oa-m2", "交党费 240 2026年1-2月").reply
        assert reply.startswith("已收到您的报告：240.00元"), reply
        with env.ctx():
            api_pending = DuesReport.get(DuesReport.member == m1.id).__data__
            bot_pending = DuesReport.get(DuesReport.member == m2.id).__data__
        _same(dict(api_pending), dict(bot_pending))
        r = env.api.post(
            f"/api/v1/dues/reports/{made.json()['report']['id']}/confirm", token=t["sec"]
        )
        assert r.status_code == 200, r.text
        reply = driver.send_text("oa-sec", "确认党费 党员丁").reply
        assert reply.startswith("已确认 党员丁 报告的 240.00元"), reply
    with env.ctx():
        reports = {
            who: DuesReport.get(DuesReport.member == p.id).__data__
            for who, p in (("api", m1), ("bot", m2))
        }
        payments = {
            who: DuesPayment.get(DuesPayment.member == p.id).__data__
            for who, p in (("api", m1), ("bot", m2))
        }
        covered = {
            who: [
                dict(m.__data__)
                for m in DuesMonth.select()
                .where(DuesMonth.payment == payments[who]["id"])
                .order_by(DuesMonth.month)
            ]
            for who in ("api", "bot")
        }
    assert reports["api"]["status"] == "confirmed" and reports["api"]["decided_by"] == sec.id
    assert payments["api"]["report"] == reports["api"]["id"]
    _same(dict(reports["api"]), dict(reports["bot"]))
    _same(dict(payments["api"]), dict(payments["bot"]), "report")
    assert len(covered["api"]) == 2
    for a, b in zip(covered["api"], covered["bot"], strict=True):
        _same(a, b, "payment")
