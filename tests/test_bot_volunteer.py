"""志愿 and 我的 through signed, encrypted callbacks: logging service with the day and hours as
typed, the refusals' words, and a member's own 学时 and confirmed service in 我的."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers import volunteer as v
from models.base import db
from models.volunteer import VolunteerEntry
from tests import factories as f
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SH)


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        a = f.branch("第一党支部")
        people = {
            "sec": f.member("王书记", a, roles="secretary"),
            "m1": f.member("张党员", a),
        }
        meet(a, "lesson", datetime(2026, 3, 10, 15, tzinfo=SH), 150, present=[people["m1"]])
        openids = {key: f.bound(p, f"oid-{key}") for key, p in people.items()}
    return {"openid": openids, **people}


def say(wechat: Any, org: dict[str, Any], who: str, text: str) -> str:
    with time_machine.travel(NOW, tick=False):
        return wechat.send_text(org["openid"][who], text).reply


def test_a_member_logs_service_and_sees_it_in_mine(app, wechat, org, settings):
    reply = say(wechat, org, "m1", "志愿 2小时 社区清扫 11月28日")
    assert reply.startswith("已登记志愿服务：2026年11月28日 2小时 社区清扫\n")
    assert "待支部书记确认后计入服务时长" in reply
    again = say(wechat, org, "m1", "【志愿】1.5小时 慰问困难党员")
    assert "2026年11月30日 1小时30分钟 慰问困难党员" in again
    with app.app_context(), db.connection_context():
        first = VolunteerEntry.select().order_by(VolunteerEntry.id).first()
        assert (first.day, first.minutes, first.source) == (date(2026, 11, 28), 120, "bot")
        v.confirm_entry(org["sec"], first.id, now=NOW, settings=settings)
    third = say(wechat, org, "m1", "志愿 90分钟 义务植树 昨天")
    assert "本年已确认：2小时（仅您本人可见）" in third
    mine = say(wechat, org, "m1", "我的")
    assert "2026年学时：2.5/32 学时" in mine and "本年志愿服务：已确认 2小时" in mine
    assert "（以上信息仅您本人可见）" in mine


def test_refusals_say_what_to_send(wechat, org):
    assert "请写明服务时长和内容，例如：志愿 2小时 社区清扫" in say(
        wechat, org, "m1", "志愿 社区清扫"
    )
    assert "每次最多登记 12 小时" in say(wechat, org, "m1", "志愿 20小时 扶贫")
    assert "只能登记最近 30 天内" in say(wechat, org, "m1", "志愿 2小时 扶贫 2026-09-01")
    assert "志愿 2小时 服务内容 [日期]" in say(wechat, org, "m1", "帮助")
