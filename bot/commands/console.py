"""Bot commands for the web console: 控制台 (a login link), 退出控制台, and the login QR scan."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_EVENTS, GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command, Filter
from handlers.console.access import (
    QR_SCENE_PREFIX,
    approve_qr_login,
    issue_login_link,
    log_out_everywhere,
)


class ConsoleScene(Filter):
    """An event carrying a console login QR scene (SCAN, or subscribe with qrscene_)."""

    def check(self, ctx: Context) -> bool:
        return ctx.incoming.kind == "event" and ctx.incoming.scene.startswith(QR_SCENE_PREFIX)

    def __repr__(self) -> str:
        return "ConsoleScene()"


def _on_console(ctx: Context) -> str:
    link = issue_login_link(ctx.member, settings=ctx.settings, now=ctx.now)
    minutes = ctx.settings.console.login_minutes
    url = f"{ctx.settings.console.base_url}/console/login/link/{link.token}"
    return (
        f"控制台登录链接（{minutes} 分钟内有效，只能使用一次，请勿转发）：\n{url}\n"
        "在电脑上打开控制台登录页扫码也可以登录。"
    )


def _on_scan(ctx: Context) -> str:
    if ctx.member is None:
        return "请先绑定党员身份后再扫码登录控制台：发送“绑定 绑定码”。"
    return approve_qr_login(ctx.member, ctx.incoming.scene, now=ctx.now)


def _on_logout(ctx: Context) -> str:
    ended = log_out_everywhere(ctx.member, now=ctx.now)
    if not ended:
        return "您当前没有登录中的控制台。"
    return f"已退出 {ended} 个控制台登录。"


def register(dispatcher: Dispatcher) -> None:
    """Bind the console scan (an event, before the follow handler) and the two commands."""
    dispatcher.add(Handler("console_scan", ConsoleScene(), _on_scan, audience=""), GROUP_EVENTS)
    dispatcher.add(
        Handler(
            "console_logout",
            Bound() & Command("退出控制台"),
            _on_logout,
            help="退出控制台 — 退出所有电脑上的控制台登录",
            audience="collector",
        ),
        GROUP_MEMBER,
    )
    dispatcher.add(
        Handler(
            "console",
            Bound() & Command("控制台", "后台", "管理后台"),
            _on_console,
            help="控制台 — 获取电脑端控制台的登录链接",
            audience="collector",
        ),
        GROUP_MEMBER,
    )
