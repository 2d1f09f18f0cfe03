"""我的数据: a one-time download link of everything kept about the member."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command
from handlers.privacy import issue_export_link


def _on_export(ctx: Context) -> str:
    offer = issue_export_link(ctx.member, settings=ctx.settings, now=ctx.now)
    return (
        f"您的个人数据下载链接（{offer.minutes} 分钟内有效，只能使用一次，请勿转发）：\n"
        f"{offer.url}\n"
        "打开即为 JSON；在链接末尾加上 ?format=xlsx 可下载 Excel 表格。"
    )


def register(dispatcher: Dispatcher) -> None:
    """Bind 我的数据 (before 我的)."""
    dispatcher.add(
        Handler(
            "my_data",
            Bound() & Command("我的数据"),
            _on_export,
            help="我的数据 — 下载系统保存的您本人的全部数据",
        ),
        GROUP_MEMBER,
    )
