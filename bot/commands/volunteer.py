"""Bot command for volunteer service: 志愿 2小时 社区清扫 [日期] logs it for the secretary to
confirm."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command
from handlers import volunteer as v


def _on_log(ctx: Context) -> str:
    logged = v.log_by_message(ctx.member, ctx.args, now=ctx.now, settings=ctx.settings)
    entry = logged.entry
    lines = [
        f"已登记志愿服务：{v.describe(entry)}",
        "待支部书记确认后计入服务时长；如被退回，会另行通知您原因。",
    ]
    if logged.year_confirmed_minutes:
        lines.append(f"本年已确认：{v.hours_text(logged.year_confirmed_minutes)}（仅您本人可见）")
    return "\n".join(lines)


def register(dispatcher: Dispatcher) -> None:
    """Bind 志愿."""
    dispatcher.add(
        Handler(
            "volunteer_log",
            Bound() & Command("志愿", "志愿服务"),
            _on_log,
            help="志愿 2小时 服务内容 [日期] — 登记党员志愿服务时长",
            audience="member",
        ),
        GROUP_MEMBER,
    )
