"""Bot command for study check-ins: 学习 / 打卡."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command
from core.workdays import work_calendar
from handlers import study


def _on_study(ctx: Context) -> str:
    done = study.check_in_by_message(
        ctx.member,
        ctx.args,
        now=ctx.now,
        tz=ctx.tz,
        calendar=work_calendar(ctx.settings),
        max_chars=ctx.settings.study.reflection_max_chars,
    )
    result, week = done.result, done.week
    topic = f"今日主题：《{result.topic.title}》\n" if result.topic else ""
    if result.created:
        head = "学习打卡成功！\n" + topic
        head += f"心得已记录（{len(result.checkin.reflection)} 字）。\n" if ctx.args else ""
    elif ctx.args:
        head = "您今天已经打过卡了，已用这次的内容更新学习心得。\n" + topic
    else:
        head = "您今天已经打过卡了，无需重复打卡。\n" + topic
    return head + f"本周已学习 {week.days_count} 天，连续学习 {week.streak} 天。"


def register(dispatcher: Dispatcher) -> None:
    """Bind 学习/打卡."""
    dispatcher.add(
        Handler(
            "study",
            Bound() & Command("学习", "打卡"),
            _on_study,
            help="学习 心得 — 学习打卡（心得可不写），例如：学习 今天读了党章第一章",
        ),
        GROUP_MEMBER,
    )
