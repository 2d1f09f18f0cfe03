"""The rectification API over real HTTP: managers raise, change, annotate, move and verify
items; members list and finish their own; every answer is held to the OpenAPI document, every
refusal checked by its status, errcode and words. tests/test_api_authz.py walks who may call
which route."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.audit import AuditEntry
from models.rectification import RectificationItem
from tests.support.api import Env

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 1, 10, 0, tzinfo=SH)
ITEMS = "/api/v1/rectifications"


@pytest.fixture
def env(make_env) -> Env:
    return make_env(api={"login_rate_per_minute": 1000})


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def err(r: Any, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["errcode"] == errcode, r.json()
    return r.json()["errmsg"]


def raise_item(env: Env, who: str = "sec", **fields: Any) -> dict[str, Any]:
    body = {
        "kind": "problem",
        "source": "life_meeting",
        "problem": "学习制度执行不严格",
        "measure": "修订学习制度\n每月检查一次",
        "owner_id": env.people["m1"].id,
        "deadline": "2026-09-30",
        **fields,
    }
    with at(NOW):
        r = env.api.post(ITEMS, token=env.token(who), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def call(env: Env, method: str, path: str, who: str, when: datetime = NOW, **kw: Any) -> Any:
    with at(when):
        return env.api.call(method, path, token=env.token(who), **kw)


def test_a_manager_raises_lists_and_changes_items(env: Env):
    first = raise_item(env)
    assert (first["number"], first["status"], first["raised_by"]) == (1, "open", "branch")
    assert first["owner"] == {
        "member": {"id": env.people["m1"].id, "name": "党员丙"},
        "role": None,
        "role_label": None,
        "label": "党员丙",
    }
    assert (first["days_left"], first["overdue"], first["deadline"]) == (29, False, "2026-09-30")
    late = raise_item(
        env, kind="duty", owner_id=None, owner_role="organizer", deadline="2026-08-20"
    )
    assert late["number"] == 2 and late["owner"]["label"] == "组织委员（职务）"
    listed = call(env, "GET", ITEMS, "sec").json()
    assert [i["number"] for i in listed["items"]] == [2, 1] and listed["total"] == 2
    overdue = call(env, "GET", ITEMS, "sec", params={"overdue": "true"}).json()
    assert [i["number"] for i in overdue["items"]] == [2] and overdue["items"][0]["overdue"]
    by_kind = call(env, "GET", ITEMS, "sec", params={"kind": "problem", "status": "open"}).json()
    assert [i["number"] for i in by_kind["items"]] == [1]
    changed = call(env, "PATCH", f"{ITEMS}/{first['id']}", "sec", json={"deadline": "2026-10-15"})
    assert changed.json()["deadline"] == "2026-10-15"
    with env.ctx():
        entry = AuditEntry.select().order_by(AuditEntry.id.desc()).get()
    assert (entry.door, entry.action) == ("api", "rectification.change")
    assert '"deadline": "2026-10-15"' in entry.after and '"deadline": "2026-09-30"' in entry.before


def test_the_owner_finishes_and_the_secretary_sends_back_then_verifies(env: Env):
    item = raise_item(env)
    path = f"{ITEMS}/{item['id']}"
    started = call(env, "POST", path + "/status", "sec", json={"status": "in_progress"})
    assert started.json()["status"] == "in_progress"
    note = call(env, "POST", path + "/notes", "m1", json={"text": "已起草制度"})
    assert note.status_code == 201 and note.json()["author"]["name"] == "党员丙"
    mine = call(env, "GET", "/api/v1/me/rectifications", "m1").json()
    assert [i["id"] for i in mine["items"]] == [item["id"]]
    assert call(env, "GET", "/api/v1/me/rectifications", "sec").json()["total"] == 0
    done_path = f"/api/v1/me/rectifications/{item['id']}/done"
    done = call(env, "POST", done_path, "m1", json={"note": "制度已修订并公示"}).json()
    assert done["status"] == "done" and done["done_at"].startswith("2026-09-01T10:00:00")
    back = call(
        env,
        "POST",
        path + "/verification",
        "sec",
        json={"approve": False, "reason": "缺少公示照片"},
    )
    assert back.json()["status"] == "in_progress" and back.json()["done_at"] is None
    call(env, "POST", done_path, "m1", json={"note": "已补充照片"})
    verified = call(env, "POST", path + "/verification", "sec", json={"approve": True}).json()
    assert verified["status"] == "verified" and verified["verified_by"]["name"] == "书记甲"
    detail = call(env, "GET", path, "m1").json()
    assert [(n["kind"], n["text"]) for n in detail["notes"]] == [
        ("progress", "已起草制度"),
        ("done", "制度已修订并公示"),
        ("refused", "缺少公示照片"),
        ("done", "已补充照片"),
        ("verified", "验收通过"),
    ]
    assert detail["is_owner"] and not detail["can_verify"] and not detail["can_change"]


def test_every_refusal_of_the_api_says_what_went_wrong(env: Env):
    item = raise_item(env)
    path = f"{ITEMS}/{item['id']}"
    done_path = f"/api/v1/me/rectifications/{item['id']}/done"
    msg = err(
        call(env, "POST", path + "/verification", "sec", json={"approve": True}), 422, "not_done"
    )
    assert msg == "编号 1 的整改事项待整改，责任人标记完成后才能验收。"
    msg = err(call(env, "POST", done_path, "sec", json={"note": "x"}), 403, "not_owner")
    assert msg == "编号 1 的整改事项不由您负责（责任人：党员丙），只有责任人可以标记完成。"
    call(env, "POST", done_path, "m1", json={"note": "已完成"})
    msg = err(call(env, "POST", done_path, "m1", json={"note": "再次"}), 409, "already_done")
    assert msg == "编号 1 的整改事项已于 2026年9月1日 标记完成，等待支部书记验收。"
    msg = err(
        call(env, "POST", path + "/verification", "sec", json={"approve": False}),
        400,
        "reason_missing",
    )
    assert msg == "请写明验收未通过的原因，以便责任人继续整改。"
    msg = err(
        call(env, "POST", path + "/status", "sec", json={"status": "done"}), 409, "already_done"
    )
    assert msg.endswith("等待支部书记验收。")
    both = {"kind": "task", "source": "patrol", "problem": "台账不全", "deadline": "2026-10-01"}
    msg = err(
        call(
            env,
            "POST",
            ITEMS,
            "sec",
            json={**both, "owner_id": env.people["m1"].id, "owner_role": "organizer"},
        ),
        400,
        "invalid_field",
    )
    assert msg == "责任人只能是一名党员或一个职务，不能同时指定。"
    msg = err(call(env, "POST", ITEMS, "sec", json=both), 400, "missing_field")
    assert msg.startswith("请指定责任人")
    elsewhere = {**both, "owner_id": env.people["secb"].id}
    msg = err(call(env, "POST", ITEMS, "sec", json=elsewhere), 422, "owner_not_in_branch")
    assert "第一党支部没有编号为" in msg
    long = {**both, "owner_role": "organizer", "problem": "问" * 501}
    msg = err(call(env, "POST", ITEMS, "sec", json=long), 400, "invalid_field")
    assert msg == "字段 problem 最多 500 字，当前 501 字。"
    with env.ctx():
        assert RectificationItem.select().count() == 1


def test_a_committee_admin_raises_and_verifies_the_committees_items(env: Env):
    item = raise_item(env, "admin")
    assert item["raised_by"] == "committee"
    path = f"{ITEMS}/{item['id']}"
    msg = err(call(env, "PATCH", path, "sec", json={"measure": "改"}), 403, "committee_item")
    assert msg == "这项整改由党委提出，只能由党委管理员修改。"
    call(
        env, "POST", f"/api/v1/me/rectifications/{item['id']}/done", "m1", json={"note": "已整改"}
    )
    msg = err(
        call(env, "POST", path + "/verification", "sec", json={"approve": True}), 403, "forbidden"
    )
    assert msg == "这项整改由党委提出，须由党委管理员验收。"
    ok = call(env, "POST", path + "/verification", "admin", json={"approve": True})
    assert ok.json()["status"] == "verified"


def test_overdue_items_are_in_the_branch_overview_alerts(env: Env):
    raise_item(env, deadline="2026-08-25")
    raise_item(env, deadline="2026-12-25")
    overview = call(env, "GET", "/api/v1/branch/overview", "sec").json()
    overdue = overview["alerts"]["rectification_overdue"]
    assert overdue["count"] == 1 and overdue["items"][0]["days_overdue"] == 7
    assert overdue["items"][0]["deadline"] == date(2026, 8, 25).isoformat()
