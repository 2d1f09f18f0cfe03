"""Every bot command in one place; the order of registration is the order of matching."""

from __future__ import annotations

from bot.commands import (
    binding,
    console,
    development,
    dues,
    meetings,
    menu,
    privacy,
    profile,
    rectification,
    study,
    volunteer,
)
from bot.dispatcher import Dispatcher
from handlers.binding import member_for_message, member_for_openid, touch


def build_dispatcher() -> Dispatcher:
    """Register each feature's handlers (see the GROUP_* constants for the ordering)."""
    # Who the sender is (with the message's stored reply, if any, in the same read), and
    # noting that a member interacted (the lost-contact rule).
    dispatcher = Dispatcher(
        member_lookup=member_for_openid,
        note_activity=touch,
        sender_lookup=member_for_message,
    )
    # Meeting QR scans first: a subscribe event with a meeting scene is a sign-in, not a follow.
    meetings.register(dispatcher)  # scans, 会议, 开始签到, 签到, 补签, 请假, 批准请假
    console.register(dispatcher)  # console login scans, 控制台, 退出控制台
    binding.register(dispatcher)  # follow event, 绑定, and the gate for unbound accounts
    study.register(dispatcher)  # 学习 / 打卡
    privacy.register(dispatcher)  # 我的数据 (before 我的)
    profile.register(dispatcher)  # 我的
    dues.register(dispatcher)  # 党费 (own, 情况, 设置, 减免), 收/交/确认/退回/更正党费
    rectification.register(dispatcher)  # 清单, 完成
    volunteer.register(dispatcher)  # 志愿
    development.register(dispatcher)  # 发展
    menu.register(dispatcher)  # 帮助 and the unknown-text hint, last
    return dispatcher
