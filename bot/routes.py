"""Every bot command in one place; the order of groups is the order of matching."""

from __future__ import annotations

from bot.dispatcher import Dispatcher
from handlers import binding, menu, study


def build_dispatcher() -> Dispatcher:
    """Register each feature's handlers (see the GROUP_* constants for the ordering)."""
    dispatcher = Dispatcher()
    binding.register(dispatcher)  # follow event, 绑定, and the gate for unbound accounts
    study.register(dispatcher)  # 学习 / 打卡, 我的
    menu.register(dispatcher)  # 帮助 and the unknown-text hint, last
    return dispatcher
