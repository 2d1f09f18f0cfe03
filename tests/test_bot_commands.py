"""Every bot command's happy and unhappy paths, through signed, encrypted HTTP callbacks."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.dispatcher import BUSY_REPLY
from core.clock import local_day, utcnow
from models.base import db
from models.org import Member
from models.study import StudyCheckin
from models.wechat import BindCode, InboundMessage, RateEvent, WechatBinding
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def data(app, settings):
    """A branch with one bound member, one unbound member with a fresh code, and a topic."""
    with app.app_context(), db.connection_context():
        br = f.branch()
        bound = f.member("张三", br)
        openid = f.bound(bound, "openid-zhangsan")
        newcomer = f.member("李四", br, status="probationary")
        code = f.code_for(newcomer, settings)
    return {"branch": br, "bound": bound, "openid": openid, "newcomer": newcomer, "code": code}


def rows(model, *where):
    query = model.select()
    if where:
        query = query.where(*where)
    with db.connection_context():
        return list(query)


# ---- follow and the gate --------------------------------------------------------------------


def test_follow_unbound_gets_welcome_and_binding_instructions(wechat, data):
    reply = wechat.send_event("stranger", "subscribe").reply
    assert reply.startswith("欢迎关注") and "绑定 绑定码" in reply


def test_follow_bound_member_is_welcomed_back_by_name(wechat, data):
    assert "张三同志，欢迎回来" in wechat.send_event(data["openid"], "subscribe").reply


def test_unsubscribe_and_unknown_events_answer_success(wechat, data):
    d = wechat.send_event(data["openid"], "unsubscribe")
    assert (d.status, d.body, d.reply) == (200, "success", None)
    d = wechat.send_event(data["openid"], "TEMPLATESENDJOBFINISH")
    assert (d.status, d.body) == (200, "success")


@pytest.mark.parametrize("text", ["学习 读党章", "我的", "随便说点什么"])
def test_unbound_account_asking_anything_gets_binding_instructions(wechat, data, text):
    reply = wechat.send_text("stranger", text).reply
    assert "尚未绑定" in reply and "绑定 绑定码" in reply
    assert rows(StudyCheckin) == []


# ---- 绑定 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        "绑定 {code}",
        "绑定：{code}",
        "  绑定   {dashed}  ",
        "【绑定】{lower}",
        "绑定 {fullwidth}",
    ],
)
def test_bind_accepts_forgiving_forms_of_the_code(wechat, data, form):
    code = data["code"]
    text = form.format(
        code=code,
        dashed=code[:4] + "-" + code[4:],
        lower=code.lower(),
        fullwidth="".join(chr(ord(c) + 0xFEE0) for c in code),
    )
    reply = wechat.send_text("new-phone", text).reply
    assert reply.startswith("绑定成功！李四同志"), reply
    (binding,) = rows(WechatBinding, WechatBinding.openid == "new-phone")
    assert binding.member_id == data["newcomer"].id
    assert "学习打卡" in wechat.send_text("new-phone", "学习").reply


def test_bind_code_is_stored_hashed_and_works_once(wechat, data):
    code = data["code"]
    stored = rows(BindCode, BindCode.member == data["newcomer"].id)
    assert len(stored) == 1 and code not in stored[0].code_hash
    assert wechat.send_text("acct-1", f"绑定 {code}").reply.startswith("绑定成功")
    reply = wechat.send_text("acct-2", f"绑定 {code}").reply
    assert "已被使用" in reply
    assert rows(WechatBinding, WechatBinding.openid == "acct-2") == []


def test_bind_refusals_each_say_what_to_do(app, settings, wechat, data):
    assert "请在“绑定”后面加上" in wechat.send_text("x1", "绑定").reply
    assert "格式不对" in wechat.send_text("x1", "绑定 12").reply
    assert "绑定码不正确" in wechat.send_text("x1", "绑定 ABCDEFGH").reply
    already = wechat.send_text(data["openid"], f"绑定 {data['code']}").reply
    assert "已绑定为 张三" in already
    with app.app_context(), db.connection_context():
        expired = f.code_for(f.member("王五", data["branch"]), settings, ttl_days=7)
    with time_machine.travel(datetime.now(SH) + timedelta(days=7, seconds=1)):
        assert "已过期" in wechat.send_text("x2", f"绑定 {expired}").reply


def test_bind_is_rate_limited_per_account(wechat, data, settings):
    limit = settings.binding.max_failures_per_hour
    for i in range(limit):
        assert "不正确" in wechat.send_text("guesser", f"绑定 ABCDEFG{'HJKMN'[i]}").reply
    # Even the right code is refused once the allowance is spent...
    assert "次数过多" in wechat.send_text("guesser", f"绑定 {data['code']}").reply
    assert rows(WechatBinding, WechatBinding.openid == "guesser") == []
    # ...while another account is unaffected, and the guesser may try again an hour later.
    with time_machine.travel(datetime.now(SH) + timedelta(hours=1, seconds=1)):
        assert wechat.send_text("guesser", f"绑定 {data['code']}").reply.startswith("绑定成功")
    assert len(rows(RateEvent)) == limit


def test_new_code_moves_the_binding_to_a_new_phone(app, settings, wechat, data):
    with app.app_context(), db.connection_context():
        code = f.code_for(data["bound"], settings)
    assert wechat.send_text("zhangsan-new-phone", f"绑定 {code}").reply.startswith("绑定成功")
    assert [b.openid for b in rows(WechatBinding, WechatBinding.member == data["bound"].id)] == [
        "zhangsan-new-phone"
    ]
    assert "尚未绑定" in wechat.send_text(data["openid"], "我的").reply


def test_issuing_a_new_code_retires_the_old_one(app, settings, wechat, data):
    with app.app_context(), db.connection_context():
        newer = f.code_for(data["newcomer"], settings)
    assert "已过期" in wechat.send_text("acct", f"绑定 {data['code']}").reply
    assert wechat.send_text("acct", f"绑定 {newer}").reply.startswith("绑定成功")


# ---- 学习 / 打卡 -------------------------------------------------------------------------------


def test_study_without_topic_is_a_general_record(wechat, data):
    reply = wechat.send_text(data["openid"], "学习 读了一篇评论员文章").reply
    assert reply.startswith("学习打卡成功") and "今日主题" not in reply
    assert "心得已记录（9 字）" in reply
    (row,) = rows(StudyCheckin)
    assert (row.topic_id, row.topic_key, row.reflection) == (None, 0, "读了一篇评论员文章")


def test_study_against_todays_topic_prefers_the_branch_topic(app, wechat, data):
    today = datetime.now(SH).date()
    with app.app_context(), db.connection_context():
        f.topic(today, "全体主题")
        f.topic(today, "党委主题", committee=data["branch"].committee)
        own = f.topic(today, "本支部主题", branch=data["branch"])
        f.topic(today - timedelta(days=1), "昨天的主题", branch=data["branch"])
    reply = wechat.send_text(data["openid"], "打卡").reply
    assert "《本支部主题》" in reply
    assert [r.topic_id for r in rows(StudyCheckin)] == [own.id]


def test_second_check_in_updates_the_reflection_and_says_so(wechat, data):
    wechat.send_text(data["openid"], "学习 第一遍")
    assert "无需重复" in wechat.send_text(data["openid"], "学习").reply
    reply = wechat.send_text(data["openid"], "学习 第二遍更深入").reply
    assert "已用这次的内容更新学习心得" in reply
    assert [r.reflection for r in rows(StudyCheckin)] == ["第二遍更深入"]


def test_too_long_reflection_is_refused_and_nothing_written(wechat, data, settings):
    limit = settings.study.reflection_max_chars
    reply = wechat.send_text(data["openid"], "学习 " + "学" * (limit + 1)).reply
    assert f"最多 {limit} 字" in reply and f"{limit + 1} 字" in reply
    assert rows(StudyCheckin) == []
    assert "学习打卡成功" in wechat.send_text(data["openid"], "学习 " + "学" * limit).reply


def test_days_follow_shanghai_midnight_not_utc(wechat, data):
    # 23:59:30 and 00:00:30 Shanghai time are the same UTC day but two local days.
    before = datetime(2026, 3, 2, 23, 59, 30, tzinfo=SH)
    for moment in (before, before + timedelta(minutes=1)):
        with time_machine.travel(moment, tick=False):
            assert "学习打卡成功" in wechat.send_text(data["openid"], "学习").reply
    assert sorted(str(r.day) for r in rows(StudyCheckin)) == ["2026-03-02", "2026-03-03"]


def test_mine_shows_week_and_streak_to_the_member_only(wechat, data):
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=SH)
    # Friday before, then Mon-Wed: streak 3, since Saturday 28 February 2026 was a working day
    # (调休) without a check-in.
    for offset in (-3, 0, 1, 2):
        with time_machine.travel(monday + timedelta(days=offset), tick=False):
            wechat.send_text(data["openid"], "学习")
    with time_machine.travel(monday + timedelta(days=2, hours=5), tick=False):
        reply = wechat.send_text(data["openid"], "我的").reply
    assert "张三同志（第一党支部 · 正式党员）" in reply
    assert "本周学习打卡：3 天" in reply and "一✓ 二✓ 三✓ 四·" in reply
    assert "连续学习：3 天；累计打卡：4 次" in reply and "仅您本人可见" in reply
    # The next morning, before checking in, the streak still counts yesterday.
    with time_machine.travel(monday + timedelta(days=3, hours=1), tick=False):
        assert "连续学习：3 天" in wechat.send_text(data["openid"], "我的").reply
    with time_machine.travel(monday + timedelta(days=4, hours=1), tick=False):
        assert "连续学习：0 天" in wechat.send_text(data["openid"], "我的").reply


def test_todays_material_shows_the_topic_and_records_nothing(app, wechat, data):
    today = local_day(utcnow(), SH)
    with app.app_context(), db.connection_context():
        f.topic(
            today,
            "《中国共产党支部工作条例（试行）》",
            committee=data["branch"].committee,
            category="charter",
            content="学习党支部的基本任务。",
            url="https://www.12371.cn/",
        )
    for text in ("今日学习", "学习 资料", "学习资料"):
        reply = wechat.send_text(data["openid"], text).reply
        assert reply.startswith(
            "【今日学习】8月19日 周三\n《中国共产党支部工作条例（试行）》（学党章党规）"
        )
        assert "学习党支部的基本任务。" in reply and "原文：https://www.12371.cn/" in reply
        assert "学习后回复「学习 心得」打卡。" in reply
    assert rows(StudyCheckin) == []
    assert (
        "今日主题：《中国共产党支部工作条例（试行）》"
        in wechat.send_text(data["openid"], "学习").reply
    )
    assert wechat.send_text(data["openid"], "今日学习").reply.endswith("今天您已打卡。")


def test_todays_material_without_a_topic_says_how_to_study_anyway(wechat, data):
    reply = wechat.send_text(data["openid"], "今日学习").reply
    assert "今天没有指定学习主题，可自主学习党章党规或系列讲话。" in reply
    assert rows(StudyCheckin) == []


# ---- 帮助, unknown text, errors -------------------------------------------------------------


def test_help_lists_commands(wechat, data):
    reply = wechat.send_text(data["openid"], "帮助").reply
    assert reply.startswith("张三同志，您可以发送：")
    assert "学习 心得" in reply and "我的" in reply and "绑定 绑定码" not in reply
    stranger = wechat.send_text("stranger", "帮助").reply
    assert "请先发送“绑定 绑定码”" in stranger and "绑定 绑定码 — " in stranger


def test_unknown_text_gets_a_one_line_hint(wechat, data):
    reply = wechat.send_text(data["openid"], "今天天气不错").reply
    assert "发送“帮助”" in reply and "\n" not in reply


def test_a_crashing_handler_writes_nothing_and_says_busy(wechat, data, monkeypatch):
    import handlers.study.checkins

    def boom(*args, **kwargs):
        raise RuntimeError("simulated failure after the check-in was written")

    monkeypatch.setattr(handlers.study.checkins, "member_week", boom)
    assert wechat.send_text(data["openid"], "学习 会丢吗").reply == BUSY_REPLY
    assert rows(StudyCheckin) == []
    monkeypatch.undo()
    assert "学习打卡成功" in wechat.send_text(data["openid"], "学习 再来").reply


def test_a_refusal_after_a_write_undoes_it_and_keeps_the_reply_and_the_activity(
    wechat, data, monkeypatch
):
    import handlers.study.checkins
    from handlers.errors import DomainError

    def refuse(*args, **kwargs):
        raise DomainError("这次不算，请稍后再试。")

    monkeypatch.setattr(handlers.study.checkins, "member_week", refuse)
    xml = wechat.text_xml(data["openid"], "学习 会留下吗", msg_id="9002")
    assert wechat.deliver(xml).reply == "这次不算，请稍后再试。"
    assert rows(StudyCheckin) == []
    (member,) = rows(Member, Member.id == data["bound"].id)
    assert member.last_active_at is not None  # the message was still noted
    monkeypatch.undo()
    assert wechat.deliver(xml).reply == "这次不算，请稍后再试。"  # a retry: the stored reply
    assert rows(StudyCheckin) == []


def test_a_redelivered_message_gets_the_same_reply_and_one_effect(wechat, data):
    xml = wechat.text_xml(data["openid"], "学习 重复投递", msg_id="9001")
    first, second = wechat.deliver(xml), wechat.deliver(xml)
    assert first.reply == second.reply and "学习打卡成功" in first.reply
    assert len(rows(StudyCheckin)) == 1
    assert len(rows(InboundMessage, InboundMessage.dedupe_key == "msg:9001")) == 1


def test_a_redelivery_from_an_unbound_account_gets_the_stored_reply(wechat, data):
    xml = wechat.text_xml("stranger-9003", f"绑定 {data['code']}", msg_id="9003")
    first = wechat.deliver(xml)
    assert "绑定成功" in first.reply
    with db.connection_context():  # bound since: a new delivery would say so
        WechatBinding.delete().where(WechatBinding.openid == "stranger-9003").execute()
    assert wechat.deliver(xml).reply == first.reply
    assert len(rows(InboundMessage, InboundMessage.dedupe_key == "msg:9003")) == 1


def test_a_redelivered_event_without_a_reply_is_answered_success_once(wechat, data):
    xml = wechat.event_xml(data["openid"], "unsubscribe", create_time=1787100000)
    first, second = wechat.deliver(xml), wechat.deliver(xml)
    assert (first.body, second.body) == ("success", "success")
    (row,) = rows(InboundMessage, InboundMessage.openid == data["openid"])
    assert row.reply is None


def test_activity_is_noted_for_the_lost_contact_rule(wechat, data):
    wechat.send_text(data["openid"], "我的")
    (member,) = rows(Member, Member.id == data["bound"].id)
    assert member.last_active_at is not None
    assert abs((datetime.now(SH) - member.last_active_at).total_seconds()) < 60
