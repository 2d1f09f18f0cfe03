"""Bot commands for study: 学习 / 打卡 (check in), and 今日学习 / 学习 资料 (today's material)."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command, Filter
from core.text import book_title, split_head
from core.workdays import work_calendar
from handlers import study
from handlers.reminders import how_to_check_in, topic_material

WEEKDAYS = "一二三四五六日"
# 学习 followed by one of these asks for the material instead of checking in.
MATERIAL_WORDS = frozenset({"资料", "内容", "材料", "主题"})


class _AsksForMaterial(Filter):
    """学习 资料 (or 学习 内容 …): today's material, not a check-in with that reflection."""

    def check(self, ctx: Context) -> bool:
        if ctx.incoming.kind != "text":
            return False
        found = split_head(ctx.head, ("学习",))
        return found is not None and found[1] in MATERIAL_WORDS

    def prefixes(self) -> frozenset[str]:
        return frozenset({"学习"})

    def __repr__(self) -> str:
        return "AsksForMaterial()"


def _on_material(ctx: Context) -> str:
    today = study.study_day(
        ctx.member,
        now=ctx.now,
        tz=ctx.tz,
        topic_max_age=ctx.settings.study.topic_cache_seconds,
    )
    head = f"【今日学习】{today.day.month}月{today.day.day}日 周{WEEKDAYS[today.day.weekday()]}\n"
    done = "\n今天您已打卡。" if today.checked_in else ""
    if today.topic is None:
        return (
            head + "今天没有指定学习主题，可自主学习党章党规或系列讲话。\n"
            f"{how_to_check_in(ctx.settings, in_chat=True)}{done}"
        )
    return head + topic_material(today.topic, ctx.settings, in_chat=True) + done


def _on_study(ctx: Context) -> str:
    done = study.check_in_by_message(
        ctx.member,
        ctx.args,
        now=ctx.now,
        tz=ctx.tz,
        calendar=work_calendar(ctx.settings),
        max_chars=ctx.settings.study.reflection_max_chars,
        topic_max_age=ctx.settings.study.topic_cache_seconds,
    )
    result, week = done.result, done.week
    topic = f"今日主题：{book_title(result.topic.title)}\n" if result.topic else ""
    if result.created:
        head = "学习打卡成功！\n" + topic
        head += f"心得已记录（{len(result.checkin.reflection)} 字）。\n" if ctx.args else ""
    elif ctx.args:
        head = "您今天已经打过卡了，已用这次的内容更新学习心得。\n" + topic
    else:
        head = "您今天已经打过卡了，无需重复打卡。\n" + topic
    return head + f"本周已学习 {week.days_count} 天，连续学习 {week.streak} 天。"


def register(dispatcher: Dispatcher) -> None:
    """Bind 今日学习 / 学习 资料, then 学习 / 打卡."""
    dispatcher.add(
        Handler(
            "study_material",
            Bound() & (Command("今日学习", "学习资料", "今日主题") | _AsksForMaterial()),
            _on_material,
            help="今日学习 — 查看今天的学习主题、内容和链接",
        ),
        GROUP_MEMBER,
    )
    dispatcher.add(
        Handler(
            "study",
            Bound() & Command("学习", "打卡"),
            _on_study,
            help="学习 心得 — 学习打卡（心得可不写），例如：学习 今天读了党章第一章",
        ),
        GROUP_MEMBER,
    )
