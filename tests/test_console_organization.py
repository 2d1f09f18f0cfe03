"""The console's organization pages over HTTP (Flask test client): the branch home's term card
and its election form, the term history page, the 失联党员 page and its outcome form, the
committee page's table of terms, party-affairs staff and open cases (counts); refusals by the
form, CSRF, who may see and do what, the audit log."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.audit import AuditEntry
from models.base import db
from models.organization import BranchTerm, ContactOutcome
from tests import factories as f
from tests.support.console import login, post

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 9, 10, 10, 0, tzinfo=SH)


@pytest.fixture(autouse=True)
def pinned() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        long_ago = NOW - timedelta(days=400)
        return {
            "a": a,
            "b": b,
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "col": f.member("郑收缴", a, roles="dues_collector", phone="13800000002"),
            "lost": f.member("久未联系", a, phone="13800000003", created_at=long_ago),
            "lostb": f.member("外支部失联", b, phone="13800000004", created_at=long_ago),
            "secb": f.member("赵书记", b, roles="secretary", phone="13800000005"),
            "admin": f.member("钱管理员", b, roles="committee_admin", phone="13800000006"),
            "staff": f.member("党务甲", b, roles="affairs_staff", phone="13800000007"),
        }


def home(org: dict[str, Any]) -> str:
    return f"/console/branch/{org['a'].id}"


def rows(app: Any, model: Any) -> list[Any]:
    with app.app_context(), db.connection_context():
        return list(model.select().order_by(model.id))


def audit(app: Any) -> list[tuple[str, str]]:
    with app.app_context(), db.connection_context():
        return [(e.door, e.action) for e in AuditEntry.select().order_by(AuditEntry.id)]


def card(page: str) -> str:
    return page.split('id="term"')[1].split("</section>")[0]


def test_the_secretary_records_an_election_from_the_branch_home(app, org):
    client = login(app, org["sec"])
    assert "未登记换届信息" in card(client.get(home(org)).text)
    done = post(client, home(org) + "/term", {"started_on": "2023-10-01"}, page=home(org))
    assert done.status_code == 303 and done.headers["Location"].endswith(home(org) + "#term")
    shown = card(client.get(home(org)).text)
    assert "2023-10-01 至 2026-10-01（3 年）" in shown and "即将届满：还有 21 天届满" in shown
    assert audit(app) == [("console", "term.record")]
    later = {"started_on": "2026-09-05", "years": "5", "note": "第七届"}
    assert post(client, home(org) + "/term", later, page=home(org)).status_code == 303
    history = client.get(home(org) + "/term").text
    assert "2026-09-05" in history and "2031-09-05" in history and "第七届" in history
    assert history.index("2026-09-05") < history.index("2023-10-01")  # newest first
    assert [t.years for t in rows(app, BranchTerm)] == [None, 5]


def test_an_overdue_term_shows_the_days_past_its_end(app, org):
    client = login(app, org["sec"])
    post(client, home(org) + "/term", {"started_on": "2023-08-31"}, page=home(org))
    shown = card(client.get(home(org)).text)
    assert 'class="rect-overdue"' in shown and "已届满未换届：已届满 10 天，请尽快换届" in shown


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"started_on": "2026-10-11"}, "换届日期 2026年10月11日 晚于今天 30 天以上"),
        ({"started_on": "九月"}, "请选择新一届任期的开始日期（例如 2026-09-01）。"),
        ({"started_on": "2026-09-01", "years": "八"}, "任期年限请填写整数年，例如 5。"),
        ({"started_on": "2026-09-01", "years": "9"}, "任期年限应为 1 到 5 年，本次为 9 年。"),
    ],
)
def test_a_refused_election_says_why_and_keeps_what_was_typed(app, org, form, message):
    client = login(app, org["sec"])
    page = post(client, home(org) + "/term", form, page=home(org))
    assert page.status_code == 400 and message in page.text
    assert f'value="{form["started_on"]}"' in page.text
    assert rows(app, BranchTerm) == [] and audit(app) == []


def test_only_managers_record_and_forms_need_the_csrf_token(app, org):
    collector = login(app, org["col"])
    page = collector.get(home(org)).text
    assert "未登记换届信息" in card(page) and "登记换届</button>" not in card(page)
    refused = post(collector, home(org) + "/term", {"started_on": "2026-09-01"}, page=home(org))
    assert refused.status_code == 403
    assert collector.get(home(org) + "/contact").status_code == 403
    sec = login(app, org["sec"])
    forged = sec.post(home(org) + "/term", data={"started_on": "2026-09-01"})
    assert forged.status_code == 400 and "页面已过期" in forged.text
    other = login(app, org["secb"])
    assert other.get(home(org) + "/term").status_code == 403
    assert rows(app, BranchTerm) == []


def contact(org: dict[str, Any]) -> str:
    return home(org) + "/contact"


def test_the_secretary_follows_up_a_lost_member_on_the_contact_page(app, org):
    client = login(app, org["sec"])
    assert f'href="{contact(org)}">失联党员</a>' in client.get(home(org)).text
    alerts = client.get(home(org)).text.split('id="alerts-h"')[1]
    assert "失联：久未联系" in alerts and f'href="{contact(org)}">去处理' in alerts
    page = client.get(contact(org)).text
    assert "1 人超过 90 天没有任何互动，1 人待跟进" in page and "外支部失联" not in page
    form = {
        "member_id": str(org["lost"].id),
        "outcome": "away",
        "happened_on": "2026-09-08",
        "place": "江苏省苏州市",
        "note": "在外务工，已建立联系",
    }
    done = post(client, contact(org), form)
    assert done.status_code == 303 and done.headers["Location"].endswith(contact(org))
    page = client.get(contact(org)).text
    assert "2026-09-08 流动党员（江苏省苏州市）：在外务工，已建立联系" in page
    assert "已跟进，2027-03-07 起如仍无互动将再次提醒" in page and "0 人待跟进" in page
    assert "失联" not in client.get(home(org)).text.split('id="alerts-h"')[1]
    assert audit(app) == [("console", "contact.outcome")]
    (row,) = rows(app, ContactOutcome)
    assert (row.outcome, row.happened_on, row.recorded_by_id) == (
        "away",
        date(2026, 9, 8),
        org["sec"].id,
    )


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"outcome": "away", "place": ""}, 400, "请填写所在地。"),
        ({"happened_on": "2026-09-11"}, 400, "联系结果的日期 2026年9月11日 晚于今天"),
        ({"happened_on": ""}, 400, "请选择联系结果的日期（例如 2026-09-01）。"),
        ({"member_id": ""}, 400, "请选择要登记的失联党员。"),
        ({"member_id": "张三"}, 400, "请选择要登记的失联党员。"),
        ({"member_id": "lostb"}, 404, "请求的资源不存在，或您无权查看。"),
        ({"member_id": "col"}, 400, "郑收缴最近 90 天内有互动，不在失联党员名单中"),
    ],
)
def test_a_refused_outcome_is_shown_by_the_form(app, org, changes, status, message):
    client = login(app, org["sec"])
    form = {"member_id": str(org["lost"].id), "outcome": "lost", "happened_on": "2026-09-10"}
    form.update(changes)
    if form["member_id"] in org:
        form["member_id"] = str(org[form["member_id"]].id)
    page = post(client, contact(org), form)
    assert page.status_code == status and message in page.text
    assert rows(app, ContactOutcome) == []


def test_the_committee_page_shows_each_branchs_organization_as_counts(app, org):
    sec = login(app, org["sec"])
    post(sec, home(org) + "/term", {"started_on": "2023-08-31"}, page=home(org))
    admin = login(app, org["admin"])
    page = admin.get("/console/committee").text
    table = page.split('id="organization"')[1].split("</table>")[0]
    body = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    cells = [re.findall(r"<td[^>]*>(?:<a[^>]*>)?([^<]*)", row) for row in body]
    assert cells == [
        ["第一党支部", "2023-08-31 至 2026-08-31", "-10", "已届满未换届", "未指定", "1"],
        ["第二党支部", "—", "—", "未登记换届信息", "已指定", "1"],
    ]
    for name in ("久未联系", "外支部失联", "党务甲"):
        assert name not in table
    # The committee admin records for a branch of the committee too.
    done = post(admin, home(org) + "/term", {"started_on": "2026-09-01"}, page=home(org))
    assert done.status_code == 303
    assert "任期内" in admin.get("/console/committee").text.split('id="organization"')[1]
