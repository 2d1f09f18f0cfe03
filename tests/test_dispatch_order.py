"""The dispatcher's word index picks the handler that checking every filter in turn would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.context import Context
from bot.dispatcher import Dispatcher, Handler
from bot.filters import Command, Text
from bot.incoming import Incoming
from bot.routes import build_dispatcher
from core.config import load
from core.text import LEADING_NOISE, SEPARATORS, TRAILING_NOISE

DISPATCHER = build_dispatcher()
SETTINGS = load(overrides={})
AT = datetime(2026, 8, 19, 1, 30, tzinfo=UTC)
WORDS = sorted({w for h in DISPATCHER.handlers() for w in h.filter.prefixes() or ()})


class Member:
    name = "张三"

    def has_role(self, *roles: str) -> bool:
        return "secretary" in roles


def _context(incoming: Incoming, bound: bool) -> Context:
    member = Member() if bound else None
    return Context(incoming, SETTINGS, AT, member_lookup=lambda openid: member)


def _every_filter_in_turn(incoming: Incoming, bound: bool) -> tuple[str | None, str, str]:
    ctx = _context(incoming, bound)
    for handler in DISPATCHER.handlers():
        if handler.filter.check(ctx):
            return handler.name, ctx.command, ctx.args
    return None, ctx.command, ctx.args


def _indexed(incoming: Incoming, bound: bool) -> tuple[str | None, str, str]:
    ctx = _context(incoming, bound)
    handler = DISPATCHER.match(ctx)
    return (handler.name if handler else None), ctx.command, ctx.args


def _text(text: str) -> Incoming:
    return Incoming(openid="o-1", kind="text", at=AT, text=text, msg_id="1")


TEXTS = [
    "学习 今天读了党章",
    "学习",
    "学习资料",
    "学习 资料",
    "【学习】资料",
    "# 打卡",
    "今日学习",
    "党费",
    "党费 情况 2026年7月",
    "党费情况",
    "交党费 30",
    "收党费 张三 300",
    "会议",
    "会议 情况 12",
    "修改会议 12 地点 二楼",
    "不批准请假 张三",
    "驳回请假 张三",
    "请假 出差",
    "签到 123456",
    "开始签到",
    "本月",
    "控制台",
    "退出控制台",
    "绑定 ABCD-2345",
    "帮助",
    "?",
    "我的",
    "今天天气不错",
    "",
    "   ",
    "学习党章",
]


@pytest.mark.parametrize("bound", [True, False])
@pytest.mark.parametrize("text", TEXTS)
def test_each_command_reaches_the_same_handler(text: str, bound: bool) -> None:
    assert _indexed(_text(text), bound) == _every_filter_in_turn(_text(text), bound)


def test_the_check_in_tries_a_few_handlers_not_all() -> None:
    ctx = _context(_text("学习 今天读了党章"), bound=True)
    tried = [h.name for h in DISPATCHER.candidates(ctx)]
    assert "study" in tried and len(tried) < len(DISPATCHER.handlers()) / 2, tried


@pytest.mark.parametrize(
    ("event", "scene"),
    [("subscribe", ""), ("subscribe", "meeting_1"), ("scan", "console_x"), ("click", "menu")],
)
@pytest.mark.parametrize("bound", [True, False])
def test_events_reach_the_same_handler(event: str, scene: str, bound: bool) -> None:
    incoming = Incoming(openid="o-1", kind="event", at=AT, event=event, scene=scene)
    assert _indexed(incoming, bound) == _every_filter_in_turn(incoming, bound)


NOISE = st.text(alphabet=LEADING_NOISE + TRAILING_NOISE + SEPARATORS[:6], max_size=3)
TAILS = st.text(alphabet="学习资料党费情况会议签到 0123456789张三abc", max_size=8)


@settings(max_examples=600, deadline=None)
@given(
    before=NOISE,
    word=st.sampled_from(WORDS + ["", "学", "党", "请"]),
    between=NOISE,
    tail=TAILS,
    bound=st.booleans(),
)
def test_any_text_reaches_the_same_handler(
    before: str, word: str, between: str, tail: str, bound: bool
) -> None:
    incoming = _text(before + word + between + tail)
    assert _indexed(incoming, bound) == _every_filter_in_turn(incoming, bound)


def test_a_filter_without_prefixes_keeps_its_place_among_indexed_ones() -> None:
    dispatcher = Dispatcher(
        member_lookup=lambda openid: None,
        note_activity=lambda *a: None,
        sender_lookup=lambda openid, key: (None, None),
    )
    seen: list[Any] = []
    dispatcher.add(Handler("first", Command("学习"), lambda ctx: "a"))
    dispatcher.add(Handler("any_text", Text(), lambda ctx: "b"))
    dispatcher.add(Handler("later", Command("学习", "打卡"), lambda ctx: "c"))
    for text, expected in [("学习", "first"), ("打卡", "any_text"), ("其他", "any_text")]:
        ctx = _context(_text(text), bound=False)
        handler = dispatcher.match(ctx)
        seen.append((text, handler.name if handler else None))
        assert handler is not None and handler.name == expected, seen
