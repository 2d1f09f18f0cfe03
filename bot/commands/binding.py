"""Bot commands for binding: the follow event, 绑定, and the gate for unbound accounts."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_EVENTS, GROUP_GATE, GROUP_PUBLIC, Dispatcher, Handler
from bot.filters import Bound, Command, Event, Text
from handlers.accounts import bind_in_chat

BIND_HELP = (
    "您的微信尚未绑定党员信息。请向支部书记索取绑定码，然后发送：\n"
    "绑定 绑定码\n"
    "例如：绑定 ABCD2345"
)


def _on_bind(ctx: Context) -> str:
    done = bind_in_chat(
        ctx.incoming.openid, ctx.args, app=ctx.incoming.app, settings=ctx.settings, now=ctx.now
    )
    if done.outcome.member is None:
        return done.outcome.message
    ctx.forget_member()
    # A newcomer who scanned a meeting code first is signed in now.
    return (
        done.outcome.message
        + "\n现在可以发送“学习 心得”进行学习打卡，发送“帮助”查看全部功能。"
        + done.signed
    )


def _on_subscribe(ctx: Context) -> str:
    if ctx.member is not None:
        return f"{ctx.member.name}同志，欢迎回来！发送“帮助”查看功能。"
    return "欢迎关注！\n" + BIND_HELP


def _on_unbound(ctx: Context) -> str:
    return BIND_HELP


def register(dispatcher: Dispatcher) -> None:
    """Bind the binding commands and the follow event."""
    dispatcher.add(
        Handler("subscribe", Event("subscribe"), _on_subscribe, audience=""), GROUP_EVENTS
    )
    dispatcher.add(
        Handler(
            "bind",
            Command("绑定"),
            _on_bind,
            help="绑定 绑定码 — 绑定您的党员信息",
            audience="unbound",
        ),
        GROUP_PUBLIC,
    )
    dispatcher.add(Handler("unbound", Text() & ~Bound(), _on_unbound, audience=""), GROUP_GATE)
