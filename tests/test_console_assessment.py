"""The console's branch assessment over HTTP (Flask test client): the committee's table sorted
by score with each breakdown, a branch's page with its breakdown, place and trend, the month
picker, and who may see what."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.clock import UTC
from handlers.study import record_study
from models.base import db
from models.org import Branch
from models.rectification import RectificationItem
from tests import factories as f
from tests.support.assessment import meets_later_criteria
from tests.support.console import login
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 10, 0, tzinfo=SH)
pytestmark = pytest.mark.clock(NOW)


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    """A held November's 主题党日 and 支委会, studied, trained, served and has a current term; B
    did none of it but closed its one rectification item on time; C is new this month (not
    judged for November)."""
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        Branch.update(created_at=datetime(2026, 1, 1, tzinfo=UTC)).execute()
        c = f.branch("第三党支部", committee)
        people = {
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "m1": f.member("张党员", a, phone="13800000003"),
            "secb": f.member("赵书记", b, roles="secretary", phone="13800000004"),
            "admin": f.member("钱管理员", b, roles="committee_admin", phone="13800000005"),
            "collector": f.member("孙收缴", a, roles="dues_collector", phone="13800000006"),
        }
        meet(a, "theme_day", datetime(2026, 11, 12, 14, 0, tzinfo=SH))
        meet(a, "committee", datetime(2026, 11, 10, 14, 0, tzinfo=SH), present=[people["sec"]])
        for key in ("sec", "m1", "collector"):
            when = datetime(2026, 11, 20, 9, tzinfo=SH)
            record_study(people[key], "", now=when, tz=SH, max_chars=500)
        meets_later_criteria(a)
        RectificationItem.create(
            branch=b,
            number=1,
            kind="problem",
            source="self_check",
            problem="台账不全",
            deadline=date(2026, 11, 20),
            status="verified",
            done_on=date(2026, 11, 18),
        )
        return {"a": a, "b": b, "c": c, **people}


def rows(html: str) -> list[str]:
    body = re.search(r'<table id="assessment">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in body.split("</tr>")[:-1]
    ]


def test_the_committee_sees_its_branches_sorted_by_score(app, org):
    admin = login(app, org["admin"])
    page = admin.get("/console/committee/assessment")
    assert page.status_code == 200, page.text
    html = page.text
    assert "测试党委 · 支部星级评定" in html and "2026年11月 · 3 个支部，2 个参加排名" in html
    assert "只比较支部，不对个人排名" in html and "五星 ≥ 90" in html
    found = rows(html)
    assert found[0].startswith("1 第一党支部 100.0")
    assert "达标 2/2 项" in found[0] and "参学 3/3 人" in found[0]
    assert found[1].startswith("2 第二党支部")
    assert "按期完成 1/1 项" in found[1] and "达标 0/2 项" in found[1]
    assert found[2].startswith("— 第三党支部 — 未评定")
    assert "王书记" not in html and "张党员" not in html  # branches, never people
    a_link = f"/console/branch/{org['a'].id}/assessment?month=2026-11"
    assert f'href="{a_link}"' in html
    assert 'href="/console/committee/assessment">支部星级评定</a>' in html  # in the top menu
    october = admin.get("/console/committee/assessment?month=2026-10").text
    assert "2026年10月" in october and '<option value="2026-10" selected>' in october
    assert "支部星级评定" in admin.get("/console/committee").text


def test_a_branch_page_shows_the_breakdown_place_and_trend(app, org):
    sec = login(app, org["sec"])
    home = sec.get(f"/console/branch/{org['a'].id}").text
    assert f'href="/console/branch/{org["a"].id}/assessment">星级评定</a>' in home
    page = sec.get(f"/console/branch/{org['a'].id}/assessment")
    assert page.status_code == 200, page.text
    html = page.text
    assert "100.0 分" in html and "五星" in html and "第1名" in html
    assert "在本党委 2 个参加排名的支部中" in html
    assert "第二党支部" not in html  # a secretary sees their place, not the others
    assert "本月没有到期的发展党员工作" in html and "其余指标的权重已按比例放大" in html
    assert "任期内（2028年3月1日届满）" in html and "参加 3/3 人，计入 3/3 小时" in html
    assert html.count('class="bar"') == 6  # every month since June was judged
    assert "2026年6月" in html and "2026年11月" in html
    c_page = login(app, org["admin"]).get(f"/console/branch/{org['c'].id}/assessment").text
    assert "本月未评定：支部在这个月开始之后才开始使用本系统。" in c_page


@pytest.mark.parametrize(
    ("who", "path", "status", "says"),
    [
        ("secb", "/console/branch/{a}/assessment", 403, "没有权限"),
        ("collector", "/console/branch/{a}/assessment", 403, "没有权限"),
        ("sec", "/console/committee/assessment", 403, "没有权限"),
        ("admin", "/console/committee/assessment?month=2026-12", 400, "2026年12月尚未结束"),
        ("admin", "/console/committee/assessment?month=十一月", 400, "请写成 2026-11"),
        ("admin", "/console/committee/assessment?month=0001-01", 400, "1900 年或以后"),
    ],
)
def test_refusals_say_why(app, org, who, path, status, says):
    client = login(app, org[who])
    page = client.get(path.format(a=org["a"].id))
    assert page.status_code == status and says in page.text
