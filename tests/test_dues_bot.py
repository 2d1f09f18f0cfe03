"""Dues end to end through signed, encrypted callbacks over HTTP: 党费, 收党费, 交党费, 确认党费,
退回党费, 更正党费, 党费 情况 / 设置 / 减免, refusals, and two collectors racing for a month."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from threading import Barrier
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.base import db
from models.dues import DuesAssessment, DuesMonth, DuesPayment, DuesRelief, DuesReport
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=SH)


def at(moment: datetime = NOW):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def org(app):
    """Branch A: secretary, collector, 张三 (8000.00 from January), 张珊, a probationary member
    accepted in March, an activist; branch B with its own secretary."""
    with app.app_context(), db.connection_context():
        a = f.branch("第一党支部")
        b = f.branch("第二党支部")
        people = {
            "sec": f.member("书记甲", a, roles="secretary"),
            "col": f.member("收缴员乙", a, roles="dues_collector"),
            "zhang": f.member("张三", a),
            "shan": f.member("张珊", a),
            "prob": f.member("李四", a, status="probationary", joined_on=date(2026, 3, 18)),
            "act": f.member("积极分子己", a, status="activist"),
            "secb": f.member("书记庚", b, roles="secretary"),
        }
        f.assess(people["zhang"], base_fen=800000, from_month=date(2026, 1, 1))
        f.assess(people["prob"], base_fen=300000, from_month=date(2026, 1, 1))
        openids = {key: f.bound(p, f"oid-{key}") for key, p in people.items()}
    return {"people": people, "openid": openids}


def say(wechat, org, who: str, text: str) -> str:
    with at():
        return wechat.send_text(org["openid"][who], text).reply


def rows(model):
    with db.connection_context():
        return list(model.select().order_by(model.id))


def paid_months(member) -> list[date]:
    with db.connection_context():
        live = (
            DuesMonth.select()
            .join(DuesPayment)
            .where(
                DuesMonth.member == member.id,
                DuesPayment.id.not_in(
                    DuesPayment.select(DuesPayment.reverses).where(
                        DuesPayment.reverses.is_null(False)
                    )
                ),
            )
        )
        return sorted(r.month for r in live)


def test_a_member_sees_their_own_dues(wechat, org):
    reply = say(wechat, org, "zhang", "党费")
    assert reply.startswith("张三同志的党费（第一党支部）")
    assert "类别：在职，税后月工资 8000.00元（2026年1月起）" in reply
    assert "本月（2026年6月）应交：120.00元" in reply
    assert "已交：无" in reply
    assert "欠交：2026年1-6月，共 6 个月" in reply and "合计欠交：720.00元" in reply
    assert "仅您本人可见" in reply
    assert "欠交：2026年3-6月，共 4 个月" in say(wechat, org, "prob", "党费")
    assert "暂不需要交纳党费" in say(wechat, org, "act", "党费")
    assert "尚未设置" in say(wechat, org, "shan", "党费")


def test_the_collector_records_and_the_member_sees_it(wechat, org):
    reply = say(wechat, org, "col", "收党费 张三 360.00 2026年1-3月")
    assert reply.startswith("已登记：张三 2026年1-3月党费 360.00元（记录编号 1；")
    assert "2026年1-3月 每月 120.00元" in reply and "更正党费 1" in reply
    mine = say(wechat, org, "zhang", "党费")
    assert "已交：2026年1-3月（共 360.00元）" in mine
    assert "欠交：2026年4-6月，共 3 个月" in mine and "合计欠交：360.00元" in mine
    # Without months: the oldest unpaid first; a full-width amount from a phone keyboard.
    assert "2026年4-5月党费 240.00元" in say(wechat, org, "sec", "收党费 张三 ２４０")
    (payment, second) = rows(DuesPayment)
    people = org["people"]
    assert (payment.recorded_by_id, second.recorded_by_id) == (people["col"].id, people["sec"].id)
    assert paid_months(people["zhang"]) == [date(2026, k, 1) for k in range(1, 6)]


def test_a_duplicate_month_is_refused_showing_the_existing_entry(wechat, org):
    say(wechat, org, "col", "收党费 张三 360.00 2026年1-3月")
    reply = say(wechat, org, "sec", "收党费 张三 120 2026年2月")
    assert "张三 2026年2月的党费已经登记过了：记录编号 1（360.00元，2026年6月10日 由 收缴员乙" in (
        reply
    )
    assert "更正党费 1" in reply
    assert len(rows(DuesPayment)) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("收党费 张三 300.001 2026年4月", "只能精确到分"),
        ("收党费 张三 -120 2026年4月", "是负数"),
        ("收党费 张三 abc", "没看懂金额“abc”"),
        ("收党费 张三 0 2026年4月", "金额应大于 0"),
        ("收党费 张三 99999999 2026年4月", "超过上限 100000.00元"),
        ("收党费 张山 120 2026年4月", "没有名为“张山”的党员。您是不是要找："),
        ("收党费 欧阳修 120 2026年4月", "也没有相近的姓名"),
        (
            "收党费 张三 100 2026年4月",
            "应交 120.00元（2026年4月 120.00元），与所填金额 100.00元 不符",
        ),
        ("收党费 张三 120 2027年8月", "超出了可预交的范围：最多预交到 2027年6月"),
        ("收党费 张三 120 13月", "没有13月"),
        ("收党费 张三 100", "不能正好对应若干个月"),
        ("收党费 张三", "请写明姓名和金额"),
        ("收党费 积极分子己 120", "只有预备党员和正式党员交纳党费"),
        ("收党费 李四 15 2026年2月", "从 2026年3月 起交纳党费（2026年3月入党）"),
        ("收党费 张珊 10 2026年1月", "还没有设置党费类别"),
        ("收党费 张三 1000 自愿 " + "长" * 300, "已登记 张三 自愿交纳"),  # the note is cut
    ],
)
def test_bad_payments_say_what_is_wrong_with_an_example_and_write_nothing(wechat, org, text, says):
    reply = say(wechat, org, "col", text)
    assert says in reply, reply
    if "已登记" not in says:
        assert any(w in reply for w in ("例如", "请核对", "请先发送", "交纳党费")), reply
        assert rows(DuesPayment) == [] and rows(DuesMonth) == []


def test_only_the_secretary_and_the_collector_of_the_branch(wechat, org):
    for who in ("zhang", "act"):
        assert "只有支部书记或党费收缴员" in say(wechat, org, who, "收党费 张三 120 2026年1月")
        assert "只有支部书记或党费收缴员" in say(wechat, org, who, "党费 情况")
        assert "只有支部书记或党费收缴员" in say(wechat, org, who, "确认党费 张三")
        assert "只有支部书记或党费收缴员" in say(wechat, org, who, "党费 设置 张三 低保")
    assert "第二党支部没有名为“张三”" in say(wechat, org, "secb", "收党费 张三 120 2026年1月")
    assert rows(DuesPayment) == [] and len(rows(DuesAssessment)) == 2


def test_a_member_reports_and_the_collector_confirms_or_sends_back(wechat, org):
    reply = say(wechat, org, "zhang", "交党费 240")
    assert "已收到您的报告：240.00元，对应 2026年1-2月（2026年1-2月 每月 120.00元）" in reply
    assert "还在等待党费收缴员确认" in say(wechat, org, "zhang", "交党费 120")
    assert "不能正好对应" in say(wechat, org, "prob", "交党费 16")
    assert "待确认：您 6月10日 报告的 240.00元" in say(wechat, org, "zhang", "党费")
    status = say(wechat, org, "sec", "党费 情况")
    assert "待确认：张三 6月10日 报告已交 240.00元（发送“确认党费 张三”" in status
    assert paid_months(org["people"]["zhang"]) == []
    reply = say(wechat, org, "col", "确认党费 张三")
    assert reply.startswith("已确认 张三 报告的 240.00元：2026年1-2月党费（记录编号 1）")
    assert "没有待确认" in say(wechat, org, "col", "确认党费 张三")
    assert paid_months(org["people"]["zhang"]) == [date(2026, 1, 1), date(2026, 2, 1)]
    assert "已收到您的报告：120.00元，对应 2026年3月" in say(
        wechat, org, "zhang", "交党费 120 2026年3月"
    )
    assert "已退回 张三 报告的 120.00元（未收到款项）" in say(
        wechat, org, "col", "退回党费 张三 未收到款项"
    )
    assert [r.status for r in rows(DuesReport)] == ["confirmed", "rejected"]
    assert "欠交：2026年3-6月" in say(wechat, org, "zhang", "党费")


def test_a_correction_is_a_new_entry(wechat, org):
    say(wechat, org, "col", "收党费 张三 240 2026年1-2月")
    assert "请写明更正原因" in say(wechat, org, "col", "更正党费 1")
    assert "请写明要更正的记录编号" in say(wechat, org, "col", "更正党费 张三")
    reply = say(wechat, org, "col", "更正党费 1 月份登记错误")
    assert reply.startswith("已作废：记录编号 1（240.00元，2026年6月10日 由 收缴员乙 登记")
    assert "张三 2026年1-2月党费" in reply and "更正记录编号 2" in reply
    assert "已经更正过了" in say(wechat, org, "sec", "更正党费 1 再次")
    assert "已登记：张三 2026年3-4月党费" in say(wechat, org, "col", "收党费 张三 240 2026年3-4月")
    assert [p.amount_fen for p in rows(DuesPayment)] == [24000, -24000, 24000]
    assert paid_months(org["people"]["zhang"]) == [date(2026, 3, 1), date(2026, 4, 1)]


def test_voluntary_payments_are_recorded_separately(wechat, org):
    reply = say(wechat, org, "col", "收党费 张三 1000.00 自愿")
    assert "自愿交纳 1000.00元" in reply and "不计入按月党费" in reply and "全额上缴" in reply
    assert "全额上缴" not in say(wechat, org, "col", "收党费 张三 500 自愿交纳")
    assert [p.kind for p in rows(DuesPayment)] == ["voluntary", "voluntary"]
    assert rows(DuesMonth) == []


def test_the_secretary_sets_categories_and_relief(wechat, org):
    reply = say(wechat, org, "sec", "党费 设置 张珊 离退休 5000.01 2026年1月")
    assert reply == "已设置 张珊：离退休，税后月收入 5000.01元，2026年1月起每月应交 50.00元。"
    assert "每月应交 0.50元" in say(wechat, org, "sec", "党费设置 张珊 农民 0.50 2026年4月")
    assert "0.20元 至 1.00元" in say(wechat, org, "sec", "党费 设置 张珊 农民 2")
    assert "没有识别出党费类别“宇航员”" in say(wechat, org, "sec", "党费 设置 张珊 宇航员")
    assert "须经上级党委批准" in say(wechat, org, "sec", "党费 设置 张珊 免交")
    assert "写了 2 个金额" in say(wechat, org, "sec", "党费 设置 张珊 在职 5000 6000")
    mine = say(wechat, org, "shan", "党费")
    assert "类别：农民（2026年4月起）" in mine and "本月（2026年6月）应交：0.50元" in mine
    assert "合计欠交：151.50元" in mine  # 3 × 50.00 + 3 × 0.50

    reply = say(wechat, org, "col", "党费 减免 张三 免交 2026年1-12月 批准 机关党委 大病住院")
    assert reply == "已记录 张三 困难减免：2026年1-12月 免交（机关党委批准）。"
    assert "须经上级党委批准" in say(wechat, org, "col", "党费 减免 张三 减交 5 2026年1-12月")
    assert "请写明减免的月份" in say(wechat, org, "col", "党费 减免 张三 免交 批准 机关党委")
    mine = say(wechat, org, "zhang", "党费")
    assert "困难减免：2026年1-12月 免交（机关党委批准）" in mine and "欠交：无" in mine
    assert "免交党费（困难减免，机关党委批准）" in say(
        wechat, org, "col", "收党费 张三 120 2026年3月"
    )
    reply = say(wechat, org, "col", "党费 减免 张三 减交 5.00 2026年5-6月 批准：机关党委")
    assert "减交至每月 5.00元（机关党委批准）" in reply
    assert "取消" in say(wechat, org, "col", "党费 减免 张三 取消 2026年6月")
    assert "欠交：2026年5-6月，共 2 个月\n合计欠交：125.00元" in say(wechat, org, "zhang", "党费")
    relief = rows(DuesRelief)
    assert [(r.kind, r.approved_by, r.reason) for r in relief] == [
        ("exempt", "机关党委", "大病住院"),
        ("reduce", "机关党委", ""),
        ("cancel", "", ""),
    ]


def test_the_branch_status_for_a_month(wechat, org):
    say(wechat, org, "col", "收党费 张三 720 2026年1-6月")
    reply = say(wechat, org, "sec", "党费 情况 2026年3月")
    lines = reply.splitlines()
    assert lines[0] == "第一党支部 2026年3月党费"
    assert lines[1] == "应收 135.00元，已收 120.00元，收缴率 88.9%"  # 张三 120 + 李四 15
    assert lines[2] == "应交 2 人，已交 1 人；免交 0 人；未设置类别 3 人"
    assert "· 李四：欠 4 个月（2026年3-6月），共 60.00元" in reply
    assert "未设置类别：书记甲、收缴员乙、张珊。" in reply  # no amount known: never owing
    assert "积极分子己" not in reply
    feb = say(wechat, org, "col", "党费情况 2026年2月")
    assert "应收 120.00元，已收 120.00元，收缴率 100.0%" in feb and "都已交纳" in feb
    with at(datetime(2026, 9, 10, 10, tzinfo=SH)):
        later = wechat.send_text(org["openid"]["sec"], "党费 情况").reply
    assert "六个月规定提醒：" in later
    assert "· 李四：已连续 6 个月未交纳党费（自2026年3月起）" in later  # March-August
    assert "没看懂月份" in say(wechat, org, "sec", "党费 情况 下下月")


def test_help_lists_the_dues_commands(wechat, org):
    assert "收党费 姓名 金额" in say(wechat, org, "sec", "帮助")
    collector = say(wechat, org, "col", "帮助")
    assert "收党费 姓名 金额" in collector and "开始签到" not in collector
    member = say(wechat, org, "zhang", "帮助")
    assert "党费 — 查看本人党费" in member and "交党费" in member and "收党费" not in member
    assert "没看懂“党费 明细”" in say(wechat, org, "zhang", "党费 明细")


def test_two_collectors_recording_the_same_month_at_once_one_wins(wechat, org):
    """Both send 收党费 for April at the same moment, several times over: one entry per month."""
    rounds = [(4, "sec", "col"), (5, "col", "sec"), (6, "sec", "col"), (7, "col", "sec")]
    for month, first, second in rounds:
        barrier = Barrier(4)

        def send(who: str, month: int = month, barrier: Barrier = barrier) -> str:
            barrier.wait()
            return wechat.send_text(org["openid"][who], f"收党费 张三 120 2026年{month}月").reply

        with time_machine.travel(NOW, tick=True):
            with ThreadPoolExecutor(4) as pool:
                replies = list(pool.map(send, [first, second, first, second]))
        won = [r for r in replies if r.startswith("已登记")]
        told = [r for r in replies if "已经登记过了" in r]
        assert len(won) == 1 and len(told) == 3, replies
        entry = won[0].split("记录编号 ")[1].split("；")[0]
        assert all(f"记录编号 {entry}（120.00元" in r for r in told)
    assert paid_months(org["people"]["zhang"]) == [date(2026, k, 1) for k in (4, 5, 6, 7)]
    assert len(rows(DuesPayment)) == 4


def test_mine_shows_the_members_own_dues(wechat, org):
    say(wechat, org, "col", "收党费 张三 120.00 2026年1月")
    mine = say(wechat, org, "zhang", "我的")
    assert "党费：本月应交 120.00元，待交 5 个月共 600.00元" in mine  # February to June
    assert "党费：类别和基数尚未设置" in say(wechat, org, "shan", "我的")
    assert "党费" not in say(wechat, org, "act", "我的")


def test_with_wechat_pay_on_dues_ends_with_how_to_pay_in_the_mini_program(wechat, org, app):
    assert "微信支付" not in say(wechat, org, "zhang", "党费")
    app.config["ZHIBU"].pay.mchid = "1900000109"  # only the hint reads it
    reply = say(wechat, org, "zhang", "党费")
    assert "也可以在小程序“党费”页面用微信支付直接交纳" in reply
    assert reply.index("微信支付") < reply.index("仅您本人可见")
