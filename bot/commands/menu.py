"""The 帮助 menu built from the registered handlers, and the hint for unknown text."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_FALLBACK, GROUP_PUBLIC, Dispatcher, Handler
from bot.filters import Command, Text
from models.org import BRANCH_MANAGERS

UNKNOWN_HINT = "没有看懂您的消息。发送“帮助”查看可用的命令。"


def menu_text(dispatcher: Dispatcher, ctx: Context) -> str:
    """List the commands this sender may use."""
    member = ctx.member
    audiences = {"member", "unbound"} if member is None else {"member"}
    if member is not None and member.has_role(*BRANCH_MANAGERS, "committee_admin"):
        audiences |= {"manager", "collector"}
    if member is not None and member.has_role("dues_collector"):
        audiences.add("collector")
    lines = [h.help for h in dispatcher.handlers() if h.help and h.audience in audiences]
    head = f"{member.name}同志，您可以发送：" if member is not None else "您可以发送："
    tail = "" if member is not None else "\n（请先发送“绑定 绑定码”完成绑定）"
    return head + "\n" + "\n".join(f"· {line}" for line in lines) + tail


def register(dispatcher: Dispatcher) -> None:
    """Bind 帮助 and the fallback hint."""
    dispatcher.add(
        Handler(
            "help",
            Command("帮助", "菜单", "help", "?", "？"),
            lambda ctx: menu_text(dispatcher, ctx),
            help="帮助 — 显示本菜单",
        ),
        GROUP_PUBLIC,
    )
    dispatcher.add(
        Handler("unknown", Text(), lambda ctx: UNKNOWN_HINT, audience=""), GROUP_FALLBACK
    )
