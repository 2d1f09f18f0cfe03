"""Volunteer service and 学时 over real HTTP: a member logs service and reads their own entries,
totals and 学时 (also in GET /me); a manager lists the branch's entries, confirms one and sends
one back (the member is told through the outbox), lists each member's 学时 and records a
county course; the committee list carries each branch's 学时, age bands, admissions and
volunteer month — figures, never names. Every answer is held to the OpenAPI document;
tests/test_api_authz.py walks who may call which route."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.outbox import OutboxMessage
from models.volunteer import VolunteerEntry
from tests.support.api import Env
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SH)


@pytest.fixture
def env(make_env) -> Env:
    return make_env(api={"login_rate_per_minute": 1000})


def call(env: Env, method: str, path: str, who: str, **kw: Any) -> Any:
    with time_machine.travel(NOW, tick=False):
        return env.api.call(method, f"/api/v1{path}", token=env.token(who), **kw)


def err(r: Any, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["errcode"] == errcode, r.json()
    return r.json()["errmsg"]


def log(env: Env, who: str = "m1", **fields: Any) -> dict[str, Any]:
    body = {"minutes": 120, "description": "社区清扫", **fields}
    r = call(env, "POST", "/me/volunteer", who, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_member_logs_and_reads_their_own_service(env: Env):
    logged = log(env, day="2026-11-28")
    entry = logged["entry"]
    assert (entry["day"], entry["minutes"], entry["hours"]) == ("2026-11-28", 120, 2.0)
    assert (entry["status"], entry["status_label"], entry["source"]) == (
        "pending",
        "待确认",
        "api",
    )
    assert logged["message"] == (
        "已登记志愿服务：2026年11月28日 2小时 社区清扫，待支部书记确认后计入服务时长。"
    )
    log(env, minutes=90, description="助老")  # today
    log(env, who="sec", description="他人的服务")  # another member's: not in m1's list
    mine = call(env, "GET", "/me/volunteer", "m1").json()
    assert [i["description"] for i in mine["items"]] == ["助老", "社区清扫"]
    assert mine["totals"] == {
        "year": 2026,
        "confirmed_minutes": 0,
        "confirmed_hours": 0.0,
        "confirmed_entries": 0,
        "pending_minutes": 210,
        "pending_entries": 2,
        "rejected_entries": 0,
    }


def test_logging_refusals(env: Env):
    cases = [
        ({"minutes": 13 * 60}, 400, "too_many_hours", "每次最多登记 12 小时"),
        ({"day": "2026-12-01"}, 400, "future_day", "还没有到"),
        ({"day": "2026-10-01"}, 400, "too_long_ago", "只能登记最近 30 天内"),
        ({"description": " "}, 400, "invalid_field", "字段 description"),
        ({"minutes": 0}, 400, "invalid_field", "字段 minutes"),
    ]
    for fields, status, errcode, words in cases:
        r = call(
            env,
            "POST",
            "/me/volunteer",
            "m1",
            json={"minutes": 60, "description": "扶贫", **fields},
        )
        assert words in err(r, status, errcode), fields
    log(env)
    r = call(env, "POST", "/me/volunteer", "m1", json={"minutes": 120, "description": "社区清扫"})
    assert "已经登记过了" in err(r, 409, "already_logged")


def test_a_manager_confirms_and_sends_back_and_the_member_is_told(env: Env):
    first = log(env)["entry"]
    second = log(env, minutes=60, description="义诊")["entry"]
    page = call(env, "GET", "/volunteer", "sec").json()
    assert page["pending"] == 2 and page["branch"]["name"] == "第一党支部"
    assert [i["member"]["name"] for i in page["items"]] == ["党员丙", "党员丙"]
    done = call(env, "POST", f"/volunteer/{first['id']}/confirm", "sec")
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    again = call(env, "POST", f"/volunteer/{first['id']}/confirm", "sec")
    assert "已确认，无需再处理" in err(again, 409, "already_decided")
    missing = call(env, "POST", f"/volunteer/{second['id']}/reject", "sec", json={"reason": ""})
    err(missing, 400, "invalid_field")
    back = call(
        env, "POST", f"/volunteer/{second['id']}/reject", "sec", json={"reason": "未见活动记录"}
    )
    assert (back.json()["status"], back.json()["reason"]) == ("rejected", "未见活动记录")
    with env.ctx():
        (told,) = OutboxMessage.select().where(OutboxMessage.kind == "volunteer_rejected")
        assert (told.target_type, told.target_id) == ("member", env.people["m1"].id)
        assert "被支部退回：未见活动记录" in told.payload
    waiting = call(env, "GET", "/volunteer", "sec", params={"status": "pending"}).json()
    assert waiting["items"] == [] and waiting["pending"] == 0
    mine = call(env, "GET", "/me/volunteer", "m1").json()["totals"]
    assert (mine["confirmed_hours"], mine["rejected_entries"]) == (2.0, 1)
    me = call(env, "GET", "/me", "m1").json()
    assert me["volunteer_hours"] == 2.0


def test_training_hours_for_members_managers_and_the_committee(env: Env):
    with env.ctx():
        a = env.branches["A"]
        present = [env.people[k] for k in ("sec", "m1")]
        meet(a, "lesson", datetime(2026, 3, 10, 15, tzinfo=SH), 180, present=present)
        for who, born, joined in (
            ("m1", date(1995, 1, 1), date(2026, 7, 1)),
            ("sec", date(1970, 6, 1), None),
        ):
            person = env.people[who]
            person.birth_date, person.joined_on = born, joined
            person.save()
    r = call(
        env,
        "POST",
        "/training",
        "sec",
        json={
            "member_ids": [env.people["m1"].id, env.people["m2"].id],
            "title": "县委党校专题培训班",
            "day": "2026-10-15",
            "minutes": 1800,
        },
    )
    assert r.status_code == 201, r.text
    assert [x["member"]["name"] for x in r.json()["records"]] == ["党员丙", "党员丁"]
    other = call(
        env,
        "POST",
        "/training",
        "sec",
        json={
            "member_ids": [env.people["mb"].id],
            "title": "培训",
            "day": "2026-10-15",
            "minutes": 60,
        },
    )
    assert "只能为本支部的党员登记培训" in err(other, 422, "member_not_in_branch")
    mine = call(env, "GET", "/me/training", "m1").json()
    assert (mine["minutes"], mine["hours"], mine["below"], mine["required_hours"]) == (
        1980,
        33.0,
        False,
        32,
    )
    assert [(i["kind_label"], i["minutes"]) for i in mine["items"]] == [
        ("培训", 1800),
        ("党课", 180),
    ]
    me = call(env, "GET", "/me", "m1").json()
    assert me["training"] == {"year": 2026, "hours": 33.0, "required_hours": 32, "below": False}
    listed = call(env, "GET", "/training", "sec").json()
    hours = {i["member"]["name"]: i["hours"] for i in listed["items"]}
    assert hours["党员丙"] == 33.0 and hours["书记甲"] == 3.0 and hours["党员丁"] == 30.0
    assert listed["below"] == len(listed["items"]) - 1
    page = call(env, "GET", "/committee/branches", "admin").json()
    assert page["required_hours"] == 32
    by_name = {i["branch"]["name"]: i for i in page["items"]}
    mine_a = by_name["第一党支部"]
    assert mine_a["training"]["members"] == len(listed["items"])
    assert mine_a["training"]["below"] == listed["below"]
    bands = {b["label"]: b["members"] for b in mine_a["makeup"]["age_bands"]}
    assert bands["35岁以下"] == 1 and bands["56—60岁"] == 1
    assert bands["未知"] == len(listed["items"]) - 2
    assert mine_a["makeup"]["admitted_this_year"] == 1
    assert "党员丙" not in str(page) and "书记甲" not in str(page)  # figures, never names


def test_the_committee_list_counts_confirmed_service_of_the_month(env: Env):
    entry = log(env)["entry"]
    log(env, minutes=30, description="交通劝导")
    call(env, "POST", f"/volunteer/{entry['id']}/confirm", "sec")
    page = call(env, "GET", "/committee/branches", "admin").json()
    by_name = {i["branch"]["name"]: i["volunteer"] for i in page["items"]}
    assert by_name["第一党支部"] == {"minutes": 120, "hours": 2.0, "people": 1, "entries": 1}
    assert by_name["第二党支部"] == {"minutes": 0, "hours": 0.0, "people": 0, "entries": 0}
    with env.ctx():
        assert VolunteerEntry.select().count() == 2
