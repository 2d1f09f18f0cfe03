"""The console's study plan page: a month of topics, the branch's own added, changed, deleted."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from models.base import db
from models.study import StudyTopic
from tests import factories as f
from tests.support.console import login, post


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        committee = f.committee("示范党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        people = {
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "propaganda": f.member("宣传委员", a, roles="propaganda", phone="13800000002"),
            "secb": f.member("李书记", b, roles="secretary", phone="13800000003"),
        }
        f.topic(date(2026, 12, 1), "党委主题一", committee=committee, category="charter")
    return {"a": a, "b": b, "committee": committee, **people}


def path(org: dict[str, Any], rest: str = "") -> str:
    return f"/console/branch/{org['a'].id}/study{rest}"


def topics(app: Any) -> list[StudyTopic]:
    with app.app_context(), db.connection_context():
        return list(StudyTopic.select().order_by(StudyTopic.id))


def test_the_month_shows_the_committees_topic_and_the_days_without_one(app, org):
    client = login(app, org["sec"])
    page = client.get(path(org, "?month=2026-12"))
    assert page.status_code == 200
    assert "党委主题一" in page.text and "学党章党规" in page.text and "党委" in page.text
    assert "12月2日 周三" in page.text and "无主题（自主学习，照常打卡）" in page.text
    assert "本月有 22 个工作日没有学习主题" in page.text
    assert "修改</a>" not in page.text  # the committee's topic is not the branch's to change


def test_a_manager_adds_changes_and_deletes_the_branchs_own_topic(app, org):
    client = login(app, org["propaganda"])  # 宣传委员 runs study
    fields = {
        "day": "2026-12-01",
        "title": "支部自己的主题",
        "category": "speeches",
        "summary": "学习系列讲话",
        "url": "https://www.12371.cn/",
    }
    done = post(client, path(org, "/topics"), fields, page=path(org, "?month=2026-12"))
    assert done.status_code == 303 and done.headers["Location"].endswith("month=2026-12")
    own = [t for t in topics(app) if t.branch_id == org["a"].id]
    assert [(t.title, t.category, t.url) for t in own] == [
        ("支部自己的主题", "speeches", "https://www.12371.cn/")
    ]
    month = client.get(path(org, "?month=2026-12")).text
    assert "支部自己的主题" in month and "党委主题一" not in month  # the branch's own wins
    edit = path(org, f"/topics/{own[0].id}/edit")
    changed = post(client, edit, {**fields, "title": "改过的主题", "day": "2026-12-03"})
    assert changed.status_code == 303
    assert [t.title for t in topics(app) if t.branch_id] == ["改过的主题"]
    gone = post(client, path(org, f"/topics/{own[0].id}/delete"), page=path(org, "?month=2026-12"))
    assert gone.status_code == 303 and [t.branch_id for t in topics(app)] == [None]


def test_bad_input_is_shown_by_the_form_and_nothing_is_written(app, org):
    client = login(app, org["sec"])
    bad = {"day": "2026-12-02", "title": "主题", "category": "other", "url": "ftp://x.cn/"}
    refused = post(client, path(org, "/topics"), bad, page=path(org, "?month=2026-12"))
    assert refused.status_code == 400
    assert (
        "不是以 http:// 或 https:// 开头的网址" in refused.text and 'value="主题"' in refused.text
    )
    no_day = post(client, path(org, "/topics"), {**bad, "day": "", "url": ""}, page=path(org))
    assert no_day.status_code == 400 and "请选择日期" in no_day.text
    assert len(topics(app)) == 1


def test_committee_topics_and_other_branches_are_refused(app, org):
    client = login(app, org["sec"])
    committee_topic = topics(app)[0]
    edit = client.get(path(org, f"/topics/{committee_topic.id}/edit"))
    assert edit.status_code == 403 and "党委统一安排的学习主题" in edit.text
    other = login(app, org["secb"])
    assert other.get(path(org)).status_code == 403
