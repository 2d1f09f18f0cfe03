"""清单 and 完成 through signed, encrypted callbacks: a member's own items (named or by a role),
marking one done, and every refusal's words."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers import rectification as r
from models.base import db
from models.rectification import RectificationItem, RectificationNote
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 25, 10, 0, tzinfo=SH)


@pytest.fixture
def org(app: Any, settings: Any) -> dict[str, Any]:
    """Branch A with a secretary, an organizer and two members, items 1-3; branch B's item 1."""
    with app.app_context(), db.connection_context():
        a, b = f.branch("第一党支部"), f.branch("第二党支部")
        people = {
            "sec": f.member("王书记", a, roles="secretary"),
            "org": f.member("李组织", a, roles="organizer"),
            "m1": f.member("张党员", a),
            "m2": f.member("刘党员", a),
            "secb": f.member("赵书记", b, roles="secretary"),
        }
        openids = {key: f.bound(p, f"oid-{key}") for key, p in people.items()}

        def item(who: str, branch: Any, deadline: date, **owner: Any) -> RectificationItem:
            return r.create_item(
                people[who],
                branch.id,
                kind="problem",
                source="life_meeting",
                problem="学习制度执行不严格",
                deadline=deadline,
                now=NOW,
                settings=settings,
                **owner,
            ).item

        items = [
            item("sec", a, date(2026, 9, 30), owner_id=people["m1"].id),
            item("sec", a, date(2026, 9, 20), owner_role="organizer"),
            item("sec", a, date(2026, 10, 31), owner_id=people["m2"].id),
            item("secb", b, date(2026, 10, 31), owner_id=people["secb"].id),
        ]
    return {"openid": openids, "items": items, **people}


def say(wechat: Any, org: dict[str, Any], who: str, text: str) -> str:
    with time_machine.travel(NOW, tick=False):
        return wechat.send_text(org["openid"][who], text).reply


def status(item_id: int) -> str:
    with db.connection_context():
        return RectificationItem.get_by_id(item_id).status


def test_a_member_lists_the_items_they_own_and_those_of_their_role(wechat, org):
    mine = say(wechat, org, "m1", "清单")
    assert mine.splitlines()[:4] == [
        "您负责的整改事项（1 项）：",
        "【编号1】问题清单 · 待整改",
        "问题：学习制度执行不严格",
        "截止 2026年9月30日（还剩 5 天）",
    ]
    assert "完成 编号 完成情况" in mine
    organizer = say(wechat, org, "org", "【整改清单】")
    assert "【编号2】问题清单 · 待整改" in organizer and "已逾期 5 天" in organizer
    assert "编号1" not in organizer and "编号3" not in organizer
    assert say(wechat, org, "sec", "清单") == "您目前没有负责的整改事项。"


def test_the_owner_marks_an_item_done_with_what_was_done(wechat, org):
    reply = say(wechat, org, "m1", "完成 1 已修订学习制度并在支部公示")
    assert reply.startswith("已标记完成：【编号1】问题清单：学习制度执行不严格")
    assert "完成情况：已修订学习制度并在支部公示" in reply and "等待支部书记验收" in reply
    assert status(org["items"][0].id) == "done"
    with db.connection_context():
        (note,) = RectificationNote.select()
        assert (note.kind, note.text, note.author_id) == (
            "done",
            "已修订学习制度并在支部公示",
            org["m1"].id,
        )
    assert "已完成待验收" in say(wechat, org, "m1", "清单")
    role_done = say(wechat, org, "org", "完成：编号2 已整改")
    assert role_done.startswith("已标记完成：【编号2】") and status(org["items"][1].id) == "done"


@pytest.mark.parametrize(
    ("who", "text", "reply"),
    [
        (
            "m1",
            "完成",
            "请写明整改事项的编号和完成情况，例如：完成 1 已修订学习制度并在支部公示\n"
            "发送“清单”可查看您负责的事项和编号。",
        ),
        (
            "m1",
            "完成 9 已整改",
            "本支部没有编号为 9 的整改事项。请发送“清单”查看您负责的整改事项和编号。",
        ),
        (
            "m2",
            "完成 1 已整改",
            "编号 1 的整改事项不由您负责（责任人：张党员），只有责任人可以标记完成。",
        ),
        (
            "m1",
            "完成 1",
            "请写明完成情况：做了什么，有哪些材料可以佐证。"
            "例如：完成 1 已修订学习制度并在支部公示",
        ),
        (
            "sec",
            "完成 2 已整改",
            "编号 2 的整改事项不由您负责（责任人：组织委员（职务）），只有责任人可以标记完成。",
        ),
    ],
)
def test_every_refusal_of_done_says_what_went_wrong(wechat, org, who, text, reply):
    assert say(wechat, org, who, text) == reply
    assert [status(i.id) for i in org["items"]] == ["open"] * 4


def test_an_item_done_or_verified_is_not_done_again(wechat, org, app, settings):
    say(wechat, org, "m1", "完成 1 已修订制度")
    again = say(wechat, org, "m1", "完成 1 再次报告")
    assert again == "编号 1 的整改事项已于 2026年9月25日 标记完成，等待支部书记验收。"
    with app.app_context(), db.connection_context():
        r.verify_item(org["sec"], org["items"][0].id, True, now=NOW, settings=settings)
    assert say(wechat, org, "m1", "完成 1 又一次") == "编号 1 的整改事项已验收，无需再处理。"
    assert "已验收" in say(wechat, org, "m1", "清单")


def test_the_menu_lists_the_rectification_commands(wechat, org):
    menu = say(wechat, org, "m1", "帮助")
    assert "清单 — 查看我负责的整改事项" in menu and "完成 编号 完成情况" in menu
