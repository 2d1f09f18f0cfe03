"""The branch organization API over real HTTP: committee terms recorded and read with their
history, lost-contact cases and their outcomes, the committee's comparison of its branches;
every answer is held to the OpenAPI document, every refusal checked by its status, errcode and
words. tests/test_api_authz.py walks who may call which route."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.org import Member
from models.organization import ContactOutcome
from tests import factories as f
from tests.support.api import Env

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 1, 10, 0, tzinfo=SH)
TERM = "/api/v1/branch/term"
LOST = "/api/v1/branch/lost-contact"


@pytest.fixture
def env(make_env) -> Env:
    return make_env(api={"login_rate_per_minute": 1000})


def call(env: Env, method: str, path: str, who: str, when: datetime = NOW, **kw: Any) -> Any:
    with time_machine.travel(when, tick=False):
        return env.api.call(method, path, token=env.token(who), **kw)


def err(r: Any, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["errcode"] == errcode, r.json()
    return r.json()["errmsg"]


def test_managers_record_a_term_and_read_it_with_its_history(env: Env):
    empty = call(env, "GET", TERM, "sec").json()
    assert (empty["status"], empty["status_label"], empty["current"], empty["history"]) == (
        "none",
        "未登记换届信息",
        None,
        [],
    )
    first = call(env, "POST", TERM, "sec", json={"started_on": "2021-03-01", "years": 5})
    assert first.status_code == 201, first.text
    body = {"started_on": "2023-10-01", "note": "第六届支部委员会"}
    r = call(env, "POST", TERM, "sec", json=body)
    assert r.status_code == 201, r.text
    answer = r.json()
    current = answer["current"]
    assert (current["started_on"], current["ends_on"], current["years"]) == (
        "2023-10-01",
        "2028-10-01",
        5,
    )  # the branch's own length carried over
    assert current["own_years"] and current["recorded_by"]["name"] == "书记甲"
    assert (answer["status"], answer["days_left"], answer["as_of"]) == ("ok", 761, "2026-09-01")
    assert [t["started_on"] for t in answer["history"]] == ["2023-10-01", "2021-03-01"]
    by_admin = call(env, "GET", TERM, "admin", params={"branch_id": env.branches["A"].id})
    assert by_admin.json()["current"]["id"] == current["id"]


def test_refused_terms_answer_their_status_and_words(env: Env):
    far = call(env, "POST", TERM, "sec", json={"started_on": "2026-10-02"})
    assert err(far, 422, "start_in_future").startswith("换届日期 2026年10月2日 晚于今天 30 天以上")
    years = call(env, "POST", TERM, "sec", json={"started_on": "2026-08-01", "years": 9})
    assert err(years, 400, "invalid_years") == "任期年限应为 1 到 5 年，本次为 9 年。"
    assert call(env, "POST", TERM, "sec", json={"started_on": "2026-08-01"}).status_code == 201
    again = call(env, "POST", TERM, "sec", json={"started_on": "2026-07-01"})
    assert err(again, 409, "not_after_current") == (
        "本届任期自 2026年8月1日 起，新一届的开始日期应晚于它。"
    )
    err(call(env, "POST", TERM, "m1", json={"started_on": "2026-08-02"}), 403, "forbidden")
    err(call(env, "GET", TERM, "m1"), 403, "forbidden")


def quiet(env: Env, name: str, branch: str = "A") -> Member:
    with env.ctx():
        return f.member(name, env.branches[branch], created_at=NOW - timedelta(days=400))


def test_the_secretary_follows_up_a_lost_member_and_the_case_closes(env: Env):
    person = quiet(env, "久未联系")
    listed = call(env, "GET", LOST, "sec").json()
    assert (listed["total"], listed["open"], listed["days"]) == (1, 1, 90)
    case = listed["items"][0]
    assert case["member"] == {"id": person.id, "name": "久未联系"} and case["open"]
    assert (case["last_outcome"], case["last_active_on"], case["reopens_on"]) == (None, None, None)
    alerts = call(env, "GET", "/api/v1/branch/overview", "sec").json()["alerts"]
    assert alerts["lost_contact"]["count"] == 1
    body = {
        "outcome": "away",
        "happened_on": "2026-08-30",
        "place": "广东省深圳市",
        "note": "在外务工",
    }
    r = call(env, "POST", f"{LOST}/{person.id}/outcomes", "sec", json=body)
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["open"], done["reopens_on"]) == (False, "2027-02-26")
    assert done["last_outcome"]["outcome_label"] == "流动党员"
    assert done["last_outcome"]["place"] == "广东省深圳市"
    listed = call(env, "GET", LOST, "sec").json()
    assert (listed["total"], listed["open"]) == (1, 0)
    alerts = call(env, "GET", "/api/v1/branch/overview", "sec").json()["alerts"]
    assert alerts["lost_contact"]["count"] == 0
    with env.ctx():
        assert Member.get_by_id(person.id).status == "full"  # nothing changes by itself


def test_refused_outcomes_answer_their_status_and_words(env: Env):
    person = quiet(env, "久未联系")
    other = quiet(env, "外支部", "B")
    path = f"{LOST}/{person.id}/outcomes"
    future = call(env, "POST", path, "sec", json={"outcome": "lost", "happened_on": "2026-09-02"})
    assert err(future, 400, "invalid_field").startswith("联系结果的日期 2026年9月2日 晚于今天")
    no_place = call(
        env, "POST", path, "sec", json={"outcome": "away", "happened_on": "2026-09-01"}
    )
    assert err(no_place, 400, "missing_field") == "请填写所在地。"
    wrong = call(env, "POST", path, "sec", json={"outcome": "moved", "happened_on": "2026-09-01"})
    assert err(wrong, 400, "invalid_field").startswith("字段 outcome")
    in_touch = env.people["m1"]  # joined the roster lately: not flagged
    fine = {"outcome": "reached", "happened_on": "2026-09-01"}
    r = call(env, "POST", f"{LOST}/{in_touch.id}/outcomes", "sec", json=fine)
    assert err(r, 422, "not_flagged").startswith("党员丙最近 90 天内有互动")
    err(call(env, "POST", f"{LOST}/{other.id}/outcomes", "sec", json=fine), 404, "not_found")
    err(call(env, "POST", path, "m1", json=fine), 403, "forbidden")
    with env.ctx():
        assert ContactOutcome.select().count() == 0


def test_committee_admins_compare_their_branches_organization(env: Env):
    quiet(env, "久未联系")
    with env.ctx():
        f.member("党务甲", env.branches["A"], roles="affairs_staff")
    call(env, "POST", TERM, "sec", json={"started_on": "2023-10-01"})
    r = call(env, "GET", "/api/v1/committee/organization", "admin")
    assert r.status_code == 200, r.text
    rows = {i["branch"]["name"]: i for i in r.json()["items"]}
    assert set(rows) == {"第一党支部", "第二党支部"}
    a, b = rows["第一党支部"], rows["第二党支部"]
    assert a["term"] == {
        "status": "due_soon",
        "status_label": "即将届满",
        "started_on": "2023-10-01",
        "ends_on": "2026-10-01",
        "days_left": 30,
    }
    assert (a["affairs_staff"], a["lost_contact_open"]) == (True, 1)
    assert (b["term"]["status"], b["affairs_staff"], b["lost_contact_open"]) == ("none", False, 0)
    assert "久未联系" not in r.text  # counts, never people
    err(call(env, "GET", "/api/v1/committee/organization", "sec"), 403, "forbidden")
