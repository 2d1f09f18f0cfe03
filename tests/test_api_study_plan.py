"""The branch's study plan over /api/v1: managers list, add, change and delete their topics.

Real HTTP to a live app (tests/support/api.py) with real tokens; every answer is checked against
/api/v1/openapi.json by tests.support.api_contract. Refused requests write nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from models.study import StudyCheckin, StudyTopic
from tests import factories as f
from tests.support.api import Env

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # a Thursday
pytestmark = pytest.mark.clock(NOW)
TODAY = NOW.date()
PLAN = "/api/v1/branch/study-plan"
TOPICS = "/api/v1/branch/study-topics"
FROM_COMMITTEE = "这是党委统一安排的学习主题，支部不能修改；可以为本支部添加当天的主题来替换它。"


def err(r: Any, status: int, errcode: str | None = None) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    if errcode is not None:
        assert body["errcode"] == errcode, body
    return body["errmsg"]


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


def topic_rows(env: Env) -> list[tuple[Any, ...]]:
    with env.ctx():
        return sorted(StudyTopic.select().tuples())


def new_topic(**fields: Any) -> dict[str, Any]:
    return {
        "day": "2026-11-27",
        "title": "学习新修订的纪律处分条例",
        "category": "学党章党规",
        "summary": "第一章 总则\n第二章 违纪与纪律处分",
        "url": "https://www.12371.cn/2024/01/01/article.shtml",
    } | fields


def propaganda(env: Env) -> str:
    """A 宣传委员 of branch A, bound to the mini-program; their token."""
    with env.ctx():
        person = f.member("宣传委员甲", env.branches["A"], roles="propaganda")
        f.bound(person, "mini-propaganda", app="mini")
    return env.token("mini-propaganda")


def day_of(plan: dict[str, Any], day: str) -> dict[str, Any]:
    return next(d for d in plan["days"] if d["day"] == day)


# ---- managers --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["sec", "propaganda"])
def test_a_manager_lists_adds_changes_and_deletes_topics(env: Env, who: str):
    token = propaganda(env) if who == "propaganda" else env.token("sec")
    a = env.branches["A"]

    created = ok(env.api.post(TOPICS, token=token, json=new_topic()), 201)
    assert created == {
        "id": created["id"],
        "day": "2026-11-27",
        "title": "学习新修订的纪律处分条例",
        "category": "charter",
        "category_label": "学党章党规",
        "summary": "第一章 总则\n第二章 违纪与纪律处分",
        "url": "https://www.12371.cn/2024/01/01/article.shtml",
        "level": "branch",
        "level_label": "本支部",
        "editable": True,
    }
    with env.ctx():
        row = StudyTopic.get_by_id(created["id"])
        assert (row.branch_id, row.committee_id, row.content) == (a.id, None, created["summary"])

    plan = ok(env.api.get(PLAN, token=token, params={"month": "2026-11"}))
    assert plan["branch"] == {"id": a.id, "name": a.name}
    assert plan["month"] == "2026-11"
    assert [d["day"] for d in plan["days"]][0::29] == ["2026-11-01", "2026-11-30"]
    assert day_of(plan, "2026-11-27")["topic"] == created
    assert day_of(plan, "2026-11-28")["workday"] is False  # a Saturday
    assert plan["planned"] == 1
    assert "2026-11-27" not in plan["unplanned_workdays"]
    assert "2026-11-26" in plan["unplanned_workdays"]

    path = f"{TOPICS}/{created['id']}"
    changed = ok(
        env.api.call("PATCH", path, token=token, json={"title": "学习条例第二章", "url": ""})
    )
    assert changed == created | {"title": "学习条例第二章", "url": ""}
    moved = ok(env.api.call("PATCH", path, token=token, json={"day": "2026-11-30"}))
    assert moved["day"] == "2026-11-30"
    assert (
        ok(env.api.call("PATCH", path, token=token, json={"category": "speeches"}))[
            "category_label"
        ]
        == "学系列讲话"
    )

    assert ok(env.api.call("DELETE", path, token=token)) == {
        "id": created["id"],
        "deleted": True,
    }
    assert topic_rows(env) == []
    plan = ok(env.api.get(PLAN, token=token, params={"month": "2026-11"}))
    assert plan["planned"] == 0
    err(env.api.call("DELETE", path, token=token), 404, "not_found")


def test_the_month_defaults_to_the_current_one_and_reads_chinese_months(env: Env):
    token = env.token("sec")
    assert ok(env.api.get(PLAN, token=token))["month"] == "2026-11"
    assert ok(env.api.get(PLAN, token=token, params={"month": "2026年12月"}))["month"] == "2026-12"
    assert len(ok(env.api.get(PLAN, token=token, params={"month": "2027-02"}))["days"]) == 28


@pytest.mark.parametrize("month", ["2026-13", "下周", "1800-01"])
def test_a_bad_month_is_refused_naming_the_field(env: Env, month: str):
    message = err(env.api.get(PLAN, token=env.token("sec"), params={"month": month}), 400)
    assert "month" in message


def test_the_committee_admin_acts_for_a_branch_of_its_committee(env: Env):
    token = env.token("admin")
    b, x = env.branches["B"], env.branches["X"]
    created = ok(env.api.post(TOPICS, token=token, json=new_topic(branch_id=b.id)), 201)
    with env.ctx():
        assert StudyTopic.get_by_id(created["id"]).branch_id == b.id
    plan = ok(env.api.get(PLAN, token=token, params={"branch_id": b.id}))
    assert plan["branch"]["id"] == b.id
    assert day_of(plan, "2026-11-27")["topic"]["editable"] is True
    path = f"{TOPICS}/{created['id']}"
    assert ok(env.api.call("PATCH", path, token=token, json={"title": "改过的主题"}))["title"] == (
        "改过的主题"
    )
    # B's secretary sees the topic the committee admin added for B, and may change it.
    assert day_of(ok(env.api.get(PLAN, token=env.token("secb"))), "2026-11-27")["topic"][
        "title"
    ] == ("改过的主题")
    ok(env.api.call("DELETE", path, token=token))

    before = topic_rows(env)
    err(env.api.get(PLAN, token=token, params={"branch_id": x.id}), 403, "forbidden")
    err(env.api.post(TOPICS, token=token, json=new_topic(branch_id=x.id)), 403, "forbidden")
    assert topic_rows(env) == before


# ---- who may not --------------------------------------------------------------------------


def test_an_ordinary_member_is_refused_and_nothing_is_written(env: Env):
    with env.ctx():
        own = f.topic(date(2026, 11, 27), branch=env.branches["A"])
    token = env.token("m1")
    before = topic_rows(env)
    assert "权限" in err(env.api.get(PLAN, token=token), 403, "forbidden")
    err(env.api.post(TOPICS, token=token, json=new_topic(day="2026-11-30")), 403, "forbidden")
    path = f"{TOPICS}/{own.id}"
    message = err(env.api.call("PATCH", path, token=token, json={"title": "x"}), 403, "forbidden")
    assert "书记" in message
    err(env.api.call("DELETE", path, token=token), 403, "forbidden")
    assert topic_rows(env) == before


@pytest.mark.parametrize("who", ["secb", "secx"])
def test_a_manager_of_another_branch_is_refused(env: Env, who: str):
    a = env.branches["A"]
    with env.ctx():
        own = f.topic(date(2026, 11, 27), branch=a)
    token = env.token(who)
    before = topic_rows(env)
    err(env.api.get(PLAN, token=token, params={"branch_id": a.id}), 403, "forbidden")
    err(env.api.post(TOPICS, token=token, json=new_topic(branch_id=a.id)), 403, "forbidden")
    # A's topic answers as an id that does not exist.
    patched = env.api.call("PATCH", f"{TOPICS}/{own.id}", token=token, json={"title": "x"})
    ghost = env.api.call("PATCH", f"{TOPICS}/999999", token=token, json={"title": "x"})
    assert (patched.status_code, patched.json()) == (ghost.status_code, ghost.json())
    err(patched, 404, "not_found")
    err(env.api.call("DELETE", f"{TOPICS}/{own.id}", token=token), 404, "not_found")
    assert a.name not in patched.text
    assert topic_rows(env) == before


# ---- topics planned above the branch ----------------------------------------------------------


def test_a_committee_topic_is_shown_but_cannot_be_changed(env: Env):
    a = env.branches["A"]
    with env.ctx():
        planned = f.topic(date(2026, 11, 27), "党委统一学习", committee=a.committee)
        everyone = f.topic(date(2026, 11, 30), "全体统一学习", category="speeches")
    token = env.token("sec")
    plan = ok(env.api.get(PLAN, token=token, params={"month": "2026-11"}))
    shown = day_of(plan, "2026-11-27")["topic"]
    assert (shown["id"], shown["level"], shown["level_label"], shown["editable"]) == (
        planned.id,
        "committee",
        "党委",
        False,
    )
    shown = day_of(plan, "2026-11-30")["topic"]
    assert (shown["level"], shown["editable"], shown["category"]) == (
        "everyone",
        False,
        "speeches",
    )

    before = topic_rows(env)
    path = f"{TOPICS}/{planned.id}"
    assert err(env.api.call("PATCH", path, token=token, json={"title": "改"}), 403) == (
        FROM_COMMITTEE
    )
    assert err(env.api.call("DELETE", path, token=token), 403) == FROM_COMMITTEE
    message = err(env.api.call("DELETE", f"{TOPICS}/{everyone.id}", token=token), 403)
    assert "支部不能修改" in message
    # Another committee's secretary is not told the committee topic exists.
    err(env.api.call("DELETE", path, token=env.token("secx")), 404, "not_found")
    assert topic_rows(env) == before

    # The branch's own topic replaces the committee's that day, for A only.
    own = ok(env.api.post(TOPICS, token=token, json=new_topic(title="本支部的学习")), 201)
    plan = ok(env.api.get(PLAN, token=token, params={"month": "2026-11"}))
    assert day_of(plan, "2026-11-27")["topic"] == own
    other = ok(env.api.get(PLAN, token=env.token("secb"), params={"month": "2026-11"}))
    assert day_of(other, "2026-11-27")["topic"]["id"] == planned.id


def test_the_branch_topic_overrides_the_committee_topic_in_study_today(env: Env):
    a = env.branches["A"]
    with env.ctx():
        planned = f.topic(TODAY, "党委统一学习", committee=a.committee, category="speeches")
    member = env.token("m1")
    today = ok(env.api.get("/api/v1/study/today", token=member))["topic"]
    assert (today["id"], today["category"], today["category_label"]) == (
        planned.id,
        "speeches",
        "学系列讲话",
    )

    body = new_topic(day=TODAY.isoformat(), title="本支部今日学习", category="other")
    own = ok(env.api.post(TOPICS, token=env.token("sec"), json=body), 201)
    today = ok(env.api.get("/api/v1/study/today", token=member))["topic"]
    assert today == {
        "id": own["id"],
        "day": TODAY.isoformat(),
        "title": "本支部今日学习",
        "category": "other",
        "category_label": "其他",
        "content": body["summary"],
        "url": body["url"],
    }
    elsewhere = ok(env.api.get("/api/v1/study/today", token=env.token("mb")))["topic"]
    assert elsewhere["id"] == planned.id


def test_deleting_a_topic_keeps_the_checkins_made_on_it(env: Env):
    body = new_topic(day=TODAY.isoformat())
    created = ok(env.api.post(TOPICS, token=env.token("sec"), json=body), 201)
    member = env.token("m1")
    done = ok(
        env.api.post("/api/v1/study/checkins", token=member, json={"reflection": "有收获"}), 201
    )
    assert done["topic"]["id"] == created["id"]
    ok(env.api.call("DELETE", f"{TOPICS}/{created['id']}", token=env.token("sec")))
    with env.ctx():
        checkin = StudyCheckin.get(StudyCheckin.member == env.people["m1"].id)
        assert (checkin.topic_id, checkin.reflection) == (None, "有收获")
    assert ok(env.api.get("/api/v1/study/today", token=member))["checked_in"] is True


# ---- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"url": "ftp://example.com/plan.pdf"}, None, "http"),
        ({"url": "javascript:alert(1)"}, None, "http"),
        ({"summary": "学" * 501}, "summary", "500"),
        ({"title": "题" * 101}, "title", "100"),
        ({"title": "  "}, "title", "不能为空"),
        ({"category": "学习"}, "category", "学党章党规"),
        ({"day": "2026-11-31"}, "day", "日期"),
        ({"day": "27/11/2026"}, "day", "日期"),
        ({"day": "1800-01-01"}, "day", "年份"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    env: Env, fields: dict[str, Any], field: str | None, words: str
):
    token = env.token("sec")
    with env.ctx():
        own = f.topic(date(2026, 11, 20), branch=env.branches["A"])
    before = topic_rows(env)
    message = err(env.api.post(TOPICS, token=token, json=new_topic(**fields)), 400)
    assert words in message and (field is None or field in message), message
    path = f"{TOPICS}/{own.id}"
    message = err(env.api.call("PATCH", path, token=token, json=fields), 400)
    assert words in message, message
    assert topic_rows(env) == before


def test_a_day_with_an_own_topic_takes_no_second_one(env: Env):
    token = env.token("sec")
    first = ok(env.api.post(TOPICS, token=token, json=new_topic()), 201)
    other = ok(env.api.post(TOPICS, token=token, json=new_topic(day="2026-11-30")), 201)
    before = topic_rows(env)
    message = err(env.api.post(TOPICS, token=token, json=new_topic(title="第二个")), 409)
    assert "2026-11-27 已有本支部的学习主题" in message and "请修改它" in message
    moved = {"day": "2026-11-27"}
    err(env.api.call("PATCH", f"{TOPICS}/{other['id']}", token=token, json=moved), 409)
    assert topic_rows(env) == before
    # Its own day is no collision.
    same = ok(env.api.call("PATCH", f"{TOPICS}/{first['id']}", token=token, json=moved))
    assert same["day"] == "2026-11-27"


def test_a_change_needs_at_least_one_field(env: Env):
    with env.ctx():
        own = f.topic(date(2026, 11, 27), branch=env.branches["A"])
    r = env.api.call("PATCH", f"{TOPICS}/{own.id}", token=env.token("sec"), json={})
    err(r, 400, "missing_field")
    r = env.api.call("PATCH", f"{TOPICS}/{own.id}", token=env.token("sec"), json={"branch_id": 1})
    err(r, 400, "unknown_field")
