"""The branch assessment over /api/v1: the committee's ranked branches with each breakdown,
a branch's score, place and trend for its managers, and the refusals. Real HTTP to a live app;
every answer is checked against /api/v1/openapi.json (tests.support.api_contract)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.clock import UTC
from handlers.study import record_study
from models.org import Branch
from tests import factories as f
from tests.support.api import Env
from tests.support.assessment import meets_later_criteria
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SH)
pytestmark = pytest.mark.clock(NOW)


@pytest.fixture
def world(env: Env) -> Env:
    """Branches A and B in the system since January; in November A held its 支委会 and 主题党日,
    everyone in A studied, trained and served, and A's term is current; B did none of it."""
    with env.ctx():
        Branch.update(created_at=datetime(2026, 1, 1, tzinfo=UTC)).execute()
        a, b = env.branches["A"], env.branches["B"]
        meet(a, "committee", datetime(2026, 11, 10, 14, 0, tzinfo=SH), present=[env.people["sec"]])
        meet(a, "theme_day", datetime(2026, 11, 12, 14, 0, tzinfo=SH))
        for key in ("sec", "m1", "m2", "new", "admin"):
            when = datetime(2026, 11, 20, 9, tzinfo=SH)
            record_study(env.people[key], "", now=when, tz=SH, max_chars=500)
        meets_later_criteria(a)
        f.member("乙党员二", b)
    return env


def test_the_committee_sees_its_branches_ranked_with_each_breakdown(world: Env):
    admin = world.token("admin")
    r = world.api.get("/api/v1/committee/assessment", token=admin, params={"month": "2026-11"})
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["month"], page["total"], page["ranked"]) == ("2026-11", 2, 2)
    first, second = page["items"]
    assert first["branch"]["name"] == "第一党支部" and first["rank"] == 1
    assert second["branch"]["name"] == "第二党支部" and second["rank"] == 2
    parts = {p["key"]: p for p in first["criteria"]}
    # Meetings met 2 of 2 (weight 20), study 5 of 5 (15), training, term and volunteer (10
    # each); no dues, items or development steps were due.
    assert parts["meetings"]["text"] == "达标 2/2 项" and parts["meetings"]["rate"] == 1.0
    assert parts["study"]["counted"] and parts["study"]["rate"] == 1.0
    assert parts["training"]["text"] == "达到进度 5/5 人，计入 146.7/146.7 学时"
    assert parts["development"] == {
        "key": "development",
        "label": "发展党员",
        "weight": 10,
        "counted": False,
        "share": None,
        "rate": None,
        "points": None,
        "done": 0,
        "due": 0,
        "text": "本月没有到期的发展党员工作",
    }
    counted = [p for p in first["criteria"] if p["counted"]]
    assert sum(p["share"] for p in counted) == pytest.approx(100, abs=0.05)
    assert first["score"] == 100.0 and first["stars_label"] == "五星" and first["renormalised"]
    assert second["score"] == 0.0 and second["stars"] == 1
    keys = [w["key"] for w in page["weights"]]
    assert keys[:4] == ["meetings", "study", "dues", "rectification"]
    one = world.api.get(
        "/api/v1/committee/assessment", token=admin, params={"limit": 1, "offset": 1}
    ).json()
    assert [i["branch"]["name"] for i in one["items"]] == ["第二党支部"]
    assert "外单位党支部" not in r.text


def test_a_secretary_sees_their_branch_its_place_and_trend_but_no_other_branch(world: Env):
    r = world.api.get("/api/v1/branch/assessment", token=world.token("secb"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["month"] == "2026-11" and body["ranked"] == 2
    assert body["score"]["branch"]["name"] == "第二党支部" and body["score"]["rank"] == 2
    assert [t["month"] for t in body["trend"]] == [f"2026-{m:02d}" for m in range(6, 12)]
    assert body["trend"][-1]["score"] == body["score"]["score"]
    assert "第一党支部" not in r.text
    admin = world.api.get(
        "/api/v1/branch/assessment",
        token=world.token("admin"),
        params={"branch_id": world.branches["A"].id, "month": "2026-10"},
    ).json()
    assert admin["score"]["branch"]["name"] == "第一党支部" and admin["month"] == "2026-10"


@pytest.mark.parametrize(
    ("who", "path", "params", "status", "errcode"),
    [
        ("admin", "/api/v1/committee/assessment", {"month": "2026-12"}, 400, "invalid_month"),
        ("admin", "/api/v1/committee/assessment", {"month": "2026-13"}, 400, "invalid_field"),
        ("sec", "/api/v1/committee/assessment", {}, 403, "forbidden"),
        ("m1", "/api/v1/branch/assessment", {}, 403, "forbidden"),
        ("secb", "/api/v1/branch/assessment", {"branch_id": "A"}, 403, "forbidden"),
        ("admin", "/api/v1/branch/assessment", {"branch_id": "X"}, 403, "forbidden"),
    ],
)
def test_refusals(world: Env, who, path, params, status, errcode):
    params = {k: world.branches[v].id if k == "branch_id" else v for k, v in params.items()}
    r = world.api.get(path, token=world.token(who), params=params)
    assert r.status_code == status, r.text
    assert r.json()["errcode"] == errcode
    if status == 400 and errcode == "invalid_month":
        assert "2026年12月尚未结束" in r.json()["errmsg"]
