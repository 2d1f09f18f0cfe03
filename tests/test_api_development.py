"""The development API over real HTTP: a branch manager lists the pipeline, reads a record and
records steps; each refusal by status, errcode and words, with nothing written; a member reads
their own record only. Every answer is held to the OpenAPI document; tests/test_api_authz.py
walks who may call which route."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.development import DevelopmentRecord
from models.org import Member
from tests import factories as f
from tests.support.api import Env

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 1, 10, 0, tzinfo=SH)
PIPELINE = "/api/v1/development"


@pytest.fixture
def env(make_env) -> Env:
    return make_env(api={"login_rate_per_minute": 1000})


def call(env: Env, method: str, path: str, who: str, **kw: Any) -> Any:
    with time_machine.travel(NOW, tick=False):
        return env.api.call(method, path, token=env.token(who), **kw)


def err(r: Any, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["errcode"] == errcode, r.json()
    return r.json()["errmsg"]


@pytest.fixture
def person(env: Env) -> Member:
    with env.ctx():
        return f.member("申请人甲", env.branches["A"], status="applicant")


def step(env: Env, person: Member, who: str = "sec", **body: Any) -> Any:
    return call(env, "POST", f"{PIPELINE}/{person.id}/steps", who, json=body)


def test_a_manager_walks_a_person_through_the_first_steps(env: Env, person: Member):
    assert step(env, person, step="apply", on="2025-06-01").status_code == 201
    assert step(env, person, step="talk", on="2025-06-20").status_code == 201
    r = step(env, person, step="activist", on="2025-07-01")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["stage"], body["stage_label"]) == ("activist", "入党积极分子")
    assert body["next_step"] == {
        "step": "contacts",
        "label": "指定培养联系人",
        "earliest": None,
        "allowed_now": True,
    }
    assert body["deadline"]["step"] == "review" and body["deadline"]["due"] == "2026-01-01"
    assert body["overdue"] is True and body["deadline"]["days_left"] == -243
    contacts = [env.people["m1"].id, env.people["m2"].id]
    r = step(env, person, step="contacts", on="2025-07-01", contact_ids=contacts)
    assert [c["name"] for c in r.json()["contacts"]] == ["党员丙", "党员丁"]
    r = step(env, person, step="review", on="2026-01-01", note="思想端正，学习认真")
    assert r.json()["reviews"] == [{"on": "2026-01-01", "note": "思想端正，学习认真"}]
    page = call(env, "GET", PIPELINE, "sec").json()
    assert [i["member"]["name"] for i in page["items"]] == ["申请人甲"]
    assert page["stages"] == {"applicant": 0, "activist": 1, "candidate": 0, "probationary": 0}
    assert page["items"][0]["next_step"]["earliest"] == "2026-07-01"
    detail = call(env, "GET", f"{PIPELINE}/{person.id}", "sec").json()
    assert [s["on"] for s in detail["steps"][:3]] == ["2025-06-01", "2025-06-20", "2025-07-01"]


def test_refusals_say_why_and_write_nothing(env: Env, person: Member):
    step(env, person, step="apply", on="2025-06-01")
    step(env, person, step="talk", on="2025-06-20")
    step(env, person, step="activist", on="2025-07-01")
    with env.ctx():
        before = list(DevelopmentRecord.select().dicts())
    early = step(env, person, step="candidate", on="2026-06-30")
    assert err(early, 422, "too_early").endswith(
        "最早 2026年7月1日 才能确定为发展对象（本次填写的是 2026年6月30日）。"
    )
    again = step(env, person, step="apply", on="2025-06-02")
    assert "只有入党申请人" in err(again, 422, "wrong_stage")
    future = step(env, person, step="review", on="2026-09-02")
    assert "晚于今天（2026年9月1日）" in err(future, 400, "future_day")
    unknown = step(env, person, step="jump", on="2026-08-01")
    assert "字段 step 应为以下之一" in err(unknown, 400, "invalid_field")
    three = [env.people[k].id for k in ("m1", "m2", "sec")]
    many = step(env, person, step="contacts", on="2025-08-01", contact_ids=three)
    assert "最多 2 项" in err(many, 400, "invalid_field")
    with env.ctx():
        assert list(DevelopmentRecord.select().dicts()) == before
        assert Member.get_by_id(person.id).status == "activist"


def test_a_member_reads_only_their_own_record(env: Env, person: Member):
    step(env, person, step="apply", on="2025-06-01")
    mine = call(env, "GET", "/api/v1/me/development", "m1").json()
    assert mine["member"]["id"] == env.people["m1"].id
    assert mine["stage"] == "full" and mine["next_step"] is None
    assert all(s["on"] is None for s in mine["steps"])
    theirs = call(env, "GET", f"{PIPELINE}/{person.id}", "m1")
    assert (
        err(theirs, 403, "forbidden")
        == "只有本支部的书记、副书记或组织委员可以查看和登记发展党员工作。"
    )
    other = call(env, "GET", f"{PIPELINE}/{person.id}", "secb")
    assert err(other, 404, "not_found")
    with env.ctx():
        assert DevelopmentRecord.get(member=person.id).applied_on == date(2025, 6, 1)


def test_the_branch_overview_counts_overdue_steps_and_names_them_to_managers(
    env: Env, person: Member
):
    step(env, person, step="apply", on="2026-07-01")  # the talk was due on 1 August
    alerts = call(env, "GET", "/api/v1/branch/overview", "sec").json()["alerts"]
    assert alerts["development_overdue"] == {
        "count": 1,
        "items": [
            {
                "member": {"id": person.id, "name": "申请人甲"},
                "step": "talk",
                "label": "入党谈话",
                "since": "2026-07-01",
                "due": "2026-08-01",
                "days_overdue": 31,
            }
        ],
    }
    quiet = call(env, "GET", "/api/v1/branch/overview", "secb").json()["alerts"]
    assert quiet["development_overdue"] == {"count": 0, "items": []}
    # The committee admin compares branches by counts: how many, never who.
    admin = call(
        env, "GET", "/api/v1/branch/overview", "admin", params={"branch_id": person.branch_id}
    )
    assert admin.json()["alerts"]["development_overdue"] == {"count": 1, "items": []}
    assert "申请人甲" not in admin.text
    step(env, person, step="talk", on="2026-08-20")
    alerts = call(env, "GET", "/api/v1/branch/overview", "sec").json()["alerts"]
    assert alerts["development_overdue"] == {"count": 0, "items": []}


def test_a_manager_corrects_a_step_and_removes_the_latest(env: Env, person: Member):
    step(env, person, step="apply", on="2025-06-01")
    step(env, person, step="talk", on="2025-06-20")
    step(env, person, step="activist", on="2025-07-01")
    path = f"{PIPELINE}/{person.id}/steps"
    fixed = call(env, "PATCH", f"{path}/talk", "sec", json={"on": "2025-06-21"})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["steps"][1] == {"step": "talk", "label": "入党谈话", "on": "2025-06-21"}
    with env.ctx():
        before = list(DevelopmentRecord.select().dicts())
    late = call(env, "PATCH", f"{path}/talk", "sec", json={"on": "2025-07-02"})
    assert err(late, 422, "out_of_order") == (
        "“确定为入党积极分子”的日期 2025年7月1日 早于“入党谈话”的日期 2025年7月2日，请核对。"
    )
    wrong = call(env, "DELETE", f"{path}/talk", "sec", json={"reason": "登记有误"})
    assert "最近的一步是 2025年7月1日 的“确定为入党积极分子”" in err(wrong, 409, "not_latest")
    bare = call(env, "DELETE", f"{path}/activist", "sec", json={})
    assert "reason" in err(bare, 400, "missing_field")
    unknown = call(env, "PATCH", f"{path}/jump", "sec", json={"on": "2025-06-21"})
    assert "步骤应为以下之一" in err(unknown, 400, "invalid_field")
    other = call(env, "DELETE", f"{path}/activist", "secb", json={"reason": "登记有误"})
    err(other, 404, "not_found")
    with env.ctx():
        assert list(DevelopmentRecord.select().dicts()) == before
        assert Member.get_by_id(person.id).status == "activist"
    gone = call(env, "DELETE", f"{path}/activist", "sec", json={"reason": "尚未召开支委会"})
    assert gone.status_code == 200, gone.text
    assert (gone.json()["stage"], gone.json()["next_step"]["step"]) == ("applicant", "activist")
    with env.ctx():
        assert Member.get_by_id(person.id).status == "applicant"
