"""我的数据 over real HTTP and signed WeChat XML: a member asks for a one-time link (bot or API)
and the link answers everything kept about them as JSON or as a workbook, once, for ten
minutes, and never anything of another member."""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from openpyxl import load_workbook

from models.meetings import Attendance, Meeting
from models.outbox import OutboxMessage
from models.study import StudyCheckin
from models.volunteer import VolunteerEntry
from tests.support.api import Env

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SH)
MARK_B = "ZQX乙独有"  # only ever in member B's (m2's) records


def _seed(env: Env, who: str, text: str) -> None:
    person = env.people[who]
    at = NOW - timedelta(days=3)
    StudyCheckin.create(member=person, day=date(2026, 12, 4), reflection=f"心得{text}")
    VolunteerEntry.create(
        member=person,
        branch=person.branch_id,
        day=date(2026, 12, 1),
        minutes=90,
        description=f"志愿{text}",
        created_at=at,
    )
    OutboxMessage.create(
        kind="study_prompt",
        target_type="member",
        target_id=person.id,
        period=f"p-{who}",
        branch=person.branch_id,
        payload=json.dumps({"text": f"消息{text}"}, ensure_ascii=False),
        next_attempt_at=at,
    )


@pytest.fixture
def env(make_env: Any) -> Env:
    built = make_env(api={"login_rate_per_minute": 1000})
    with built.ctx():
        _seed(built, "m1", "甲的记录")
        _seed(built, "m2", MARK_B)
        meeting = Meeting.create(
            branch=built.branches["A"],
            kind="branch_meeting",
            title="十二月支部党员大会",
            starts_at=NOW - timedelta(days=2),
            ends_at=NOW - timedelta(days=2, hours=-2),
            qr_scene="scene-export-test",
        )
        Attendance.create(meeting=meeting, member=built.people["m1"], status="present")
        Attendance.create(
            meeting=meeting,
            member=built.people["m2"],
            status="leave",
            leave_reason=f"请假{MARK_B}",
            leave_status="approved",
        )
    return built


def ask(env: Env, who: str = "m1", at: datetime = NOW) -> requests.Response:
    with time_machine.travel(at, tick=False):
        return env.api.get("/api/v1/me/export", token=env.token(who))


def path_of(url: str, env: Env) -> str:
    base = env.app.config["ZHIBU"].console.base_url
    assert url.startswith(base + "/export/")
    return url.removeprefix(base)


def fetch(env: Env, path: str, at: datetime = NOW, **params: str) -> requests.Response:
    with time_machine.travel(at, tick=False):
        return requests.get(env.server.url + path, params=params, timeout=30)


def test_the_link_answers_everything_kept_about_the_member_once(env: Env):
    asked = ask(env)
    assert asked.status_code == 200, asked.text
    offer = asked.json()
    assert offer["minutes"] == 10
    assert offer["expires_at"] == "2026-12-07T10:10:00+08:00"
    path = path_of(offer["url"], env)
    got = fetch(env, path, NOW + timedelta(minutes=5))
    assert got.status_code == 200, got.text
    assert got.headers["Cache-Control"] == "no-store"
    data = got.json()
    me = env.people["m1"]
    assert data["member_id"] == me.id
    assert [row["name"] for row in data["member"]] == ["党员丙"]
    assert data["member"][0]["branch_name"] == "第一党支部"
    assert [(b["app"], b["openid"]) for b in data["bindings"]] == [("mini", "****")]
    assert [c["reflection"] for c in data["checkins"]] == ["心得甲的记录"]
    assert [(a["meeting_title"], a["status"]) for a in data["attendance"]] == [
        ("十二月支部党员大会", "present")
    ]
    assert [v["description"] for v in data["volunteer"]] == ["志愿甲的记录"]
    assert [m["text"] for m in data["messages"]] == ["消息甲的记录"]
    assert "mini-m1" not in got.text  # the binding's openid only masked
    again = fetch(env, path, NOW + timedelta(minutes=6))
    assert again.status_code == 400 and "已经用过" in again.text


def test_nothing_of_another_member_is_in_the_export(env: Env):
    path = path_of(ask(env).json()["url"], env)
    text = fetch(env, path).text
    other = env.people["m2"]
    assert "甲的记录" in text
    for foreign in (MARK_B, other.name, other.phone, "书记甲"):
        assert foreign not in text, foreign
    assert all(row.get("member") is None for row in json.loads(text)["attendance"])


def test_the_workbook_is_formula_safe_and_named_in_chinese(env: Env):
    with env.ctx():
        StudyCheckin.create(
            member=env.people["m1"], day=date(2026, 12, 5), reflection="=HYPERLINK(1)"
        )
    path = path_of(ask(env).json()["url"], env)
    got = fetch(env, path, format="xlsx")
    assert got.status_code == 200, got.text
    name = quote("党员丙的数据2026年12月7日.xlsx", safe="")
    assert "filename*=UTF-8''" + name in got.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(got.content))
    assert book.sheetnames[:4] == ["名册信息", "微信绑定", "学习打卡", "参会与请假"]
    cells = [c.value for row in book["学习打卡"].iter_rows() for c in row]
    assert any(str(c).endswith("=HYPERLINK(1)") for c in cells)  # kept, as text
    assert not any(str(c).startswith("=") for c in cells if c is not None)
    every = [str(c.value) for ws in book for row in ws.iter_rows() for c in row]
    assert not any(MARK_B in c for c in every)


def test_another_members_address_an_expired_or_altered_token_refuses(env: Env):
    path = path_of(ask(env).json()["url"], env)
    _, _, mine, token = path.split("/")
    other = env.people["m2"].id
    assert fetch(env, f"/export/{other}/{token}").status_code == 400  # not m2's token
    late = fetch(env, path, NOW + timedelta(minutes=10))
    assert late.status_code == 400 and "已过期（有效 10 分钟）" in late.text
    assert fetch(env, f"/export/{mine}/{token[:-2]}xx", NOW).status_code == 400
    assert fetch(env, path, NOW, format="csv").status_code == 400


def test_asking_is_rate_limited(env: Env):
    for _ in range(3):
        assert ask(env).status_code == 200
    refused = ask(env)
    assert refused.status_code == 429 and refused.json()["errcode"] == "rate_limited"
    assert ask(env, at=NOW + timedelta(hours=1, seconds=1)).status_code == 200


def test_the_bot_answers_a_link_that_works(env: Env, settings: Any):
    from tests.support.apps import make_driver

    wechat = make_driver(env.app.config["ZHIBU"], env.server.url)
    with time_machine.travel(NOW, tick=False):
        reply = wechat.send_text("oa-m2", "我的数据").reply
    assert "10 分钟内有效，只能使用一次" in reply
    url = reply.split("\n")[1]
    data = fetch(env, path_of(url, env)).json()
    assert data["member_id"] == env.people["m2"].id
    assert [c["reflection"] for c in data["checkins"]] == [f"心得{MARK_B}"]
