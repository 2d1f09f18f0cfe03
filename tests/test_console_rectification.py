"""The console's rectification pages over HTTP (Flask test client): the branch's lists with
filters and overdue items marked, the add form, notes, started and done, verification and
sending back; the committee's counts per branch; CSRF, who may see what, the audit log."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers import rectification as r
from models.audit import AuditEntry
from models.base import db
from models.rectification import RectificationItem
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
        return {
            "a": a,
            "b": b,
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "org": f.member("李组织", a, roles="organizer", phone="13800000002"),
            "m1": f.member("张党员", a, phone="13800000003"),
            "secb": f.member("赵书记", b, roles="secretary", phone="13800000004"),
            "admin": f.member("钱管理员", b, roles="committee_admin", phone="13800000005"),
        }


def base(org: dict[str, Any]) -> str:
    return f"/console/branch/{org['a'].id}/rectification"


FORM = {
    "kind": "problem",
    "source": "life_meeting",
    "problem": "学习制度执行不严格",
    "measure": "修订学习制度",
    "deadline": "2026-09-30",
}


def add(client: Any, org: dict[str, Any], **changes: str) -> Any:
    return post(client, base(org), {**FORM, "owner": f"m:{org['m1'].id}", **changes})


def items(app: Any) -> list[RectificationItem]:
    with app.app_context(), db.connection_context():
        return list(RectificationItem.select().order_by(RectificationItem.id))


def audit(app: Any) -> list[tuple[str, str]]:
    with app.app_context(), db.connection_context():
        return [(e.door, e.action) for e in AuditEntry.select().order_by(AuditEntry.id)]


def test_the_secretary_adds_an_item_and_finds_it_from_the_branch_menu(app, org):
    client = login(app, org["sec"])
    home = client.get(f"/console/branch/{org['a'].id}").text
    assert f'href="{base(org)}">整改清单</a>' in home
    done = add(client, org)
    assert done.status_code == 303
    (item,) = items(app)
    assert done.headers["Location"].endswith(f"{base(org)}/{item.id}")
    assert (item.number, item.owner_id, item.deadline) == (1, org["m1"].id, date(2026, 9, 30))
    assert audit(app) == [("console", "rectification.create")]
    page = client.get(done.headers["Location"]).text
    assert "【编号1】问题清单" in page and "学习制度执行不严格" in page and "张党员" in page
    assert "还剩 20 天" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"problem": " "}, "请填写问题。"),
        ({"problem": "问" * 501}, "问题最多 500 字，本次 501 字，未保存。"),
        ({"owner": ""}, "请指定责任人：本支部的一名党员，或一个职务（如书记、组织委员）。"),
        ({"deadline": "九月底"}, "请选择截止日期（例如 2026-09-30）。"),
        ({"kind": "x"}, "清单类别应为以下之一：问题清单、任务清单、责任清单。"),
    ],
)
def test_a_refused_form_says_why_and_keeps_what_was_typed(app, org, changes, message):
    client = login(app, org["sec"])
    page = add(client, org, **changes)
    assert page.status_code == 400 and message in page.text
    if changes.get("problem", "").strip():
        assert changes["problem"] in page.text
    assert items(app) == []


def test_the_list_filters_and_marks_overdue_items(app, org):
    client = login(app, org["sec"])
    add(client, org, deadline="2026-09-01", problem="台账不完整")
    add(client, org, kind="task", owner="r:organizer", problem="组织学习不规律")
    page = client.get(base(org)).text
    overdue_row = re.search(r'<tr class="rect-overdue">(.*?)</tr>', page, re.S).group(1)
    assert "台账不完整" in overdue_row and "逾期 9 天" in overdue_row
    assert "组织委员（职务）" in page
    only_late = client.get(base(org) + "?overdue=1").text
    assert "台账不完整" in only_late and "组织学习不规律" not in only_late
    tasks = client.get(base(org) + "?kind=task").text
    assert "组织学习不规律" in tasks and "台账不完整" not in tasks


def test_notes_done_sent_back_and_verified_through_the_item_page(app, org):
    client = login(app, org["sec"])
    item_url = add(client, org).headers["Location"]
    empty = post(client, item_url + "/notes", {"text": ""}, page=item_url)
    assert empty.status_code == 400 and "请填写说明。" in empty.text
    assert post(client, item_url + "/notes", {"text": "已起草"}, page=item_url).status_code == 303
    start = post(client, item_url + "/status", {"status": "in_progress"}, page=item_url)
    assert start.status_code == 303 and items(app)[0].status == "in_progress"
    bare = post(client, item_url + "/status", {"status": "done"}, page=item_url)
    assert bare.status_code == 400 and "请写明完成情况" in bare.text
    post(client, item_url + "/status", {"status": "done", "text": "已公示"}, page=item_url)
    refused = post(client, item_url + "/verification", {"decision": "refuse"}, page=item_url)
    assert refused.status_code == 400 and "请写明验收未通过的原因" in refused.text
    back = {"decision": "refuse", "reason": "缺少照片"}
    assert post(client, item_url + "/verification", back, page=item_url).status_code == 303
    assert items(app)[0].status == "in_progress"
    post(client, item_url + "/status", {"status": "done", "text": "已补照片"}, page=item_url)
    ok = post(client, item_url + "/verification", {"decision": "approve"}, page=item_url)
    assert ok.status_code == 303 and items(app)[0].status == "verified"
    page = client.get(item_url).text
    for text in ("已起草", "已公示", "缺少照片", "已补照片", "验收通过", "已验收，整改完成。"):
        assert text in page
    assert audit(app) == [
        ("console", "rectification.create"),
        ("console", "rectification.status"),
        ("console", "rectification.status"),
        ("console", "rectification.refuse"),
        ("console", "rectification.status"),
        ("console", "rectification.verify"),
    ]


def test_the_item_page_edits_the_item_and_keeps_what_was_typed_on_a_refusal(app, org):
    client = login(app, org["sec"])
    item_url = add(client, org).headers["Location"]
    page = client.get(item_url).text
    assert "修改事项" in page and 'value="2026-09-30"' in page
    changed = {
        **FORM,
        "problem": "学习制度执行不严",
        "owner": "r:organizer",
        "deadline": "2026-10-15",
    }
    assert post(client, item_url + "/edit", changed, page=item_url).status_code == 303
    item = items(app)[0]
    assert (item.problem, item.owner_id, item.owner_role, item.deadline) == (
        "学习制度执行不严",
        None,
        "organizer",
        date(2026, 10, 15),
    )
    bad = post(
        client, item_url + "/edit", {**changed, "problem": "", "measure": "新措施"}, page=item_url
    )
    assert bad.status_code == 400 and "新措施" in bad.text and 'class="error"' in bad.text
    no_day = post(client, item_url + "/edit", {**changed, "deadline": "明天"}, page=item_url)
    assert no_day.status_code == 400 and "请选择截止日期" in no_day.text
    assert items(app)[0].measure == "修订学习制度"  # nothing half-written
    assert audit(app)[-1] == ("console", "rectification.change")
    other = login(app, org["secb"])
    assert post(other, item_url + "/edit", changed, page=item_url).status_code in (403, 404)
    organizer = login(app, org["org"])
    assert "修改事项" in organizer.get(item_url).text
    with app.app_context(), db.connection_context():
        r.move_status(org["org"], item.id, "done", "已完成", now=NOW, settings=app.config["ZHIBU"])
        r.verify_item(org["sec"], item.id, True, now=NOW, settings=app.config["ZHIBU"])
    assert "修改事项" not in client.get(item_url).text
    late = post(client, item_url + "/edit", changed, page=item_url)
    assert late.status_code == 400 and "已验收，不能再修改" in late.text


def test_only_the_secretary_verifies_and_forms_need_the_csrf_token(app, org):
    sec = login(app, org["sec"])
    item_url = add(sec, org).headers["Location"]
    with app.app_context(), db.connection_context():
        r.mark_done(org["m1"], items(app)[0].id, "已整改", now=NOW, settings=app.config["ZHIBU"])
    organizer = login(app, org["org"])
    page = organizer.get(item_url).text
    assert "验收通过" not in page and "等待支部书记验收" in page
    refused = post(organizer, item_url + "/verification", {"decision": "approve"}, page=item_url)
    assert refused.status_code == 403
    assert "只有支部书记可以验收本支部提出的整改事项。" in refused.text
    forged = sec.post(item_url + "/verification", data={"decision": "approve"})
    assert forged.status_code == 400 and "页面已过期" in forged.text
    assert items(app)[0].status == "done"


def test_another_branch_sees_nothing_and_the_committee_sees_counts(app, org):
    sec = login(app, org["sec"])
    add(sec, org, deadline="2026-09-01")
    add(sec, org)
    other = login(app, org["secb"])
    assert other.get(base(org)).status_code == 403
    item_id = items(app)[0].id
    assert other.get(f"{base(org)}/{item_id}").status_code == 404
    b_url = f"/console/branch/{org['b'].id}/rectification/{item_id}"
    assert other.get(b_url).status_code == 404  # A's item under B's address
    admin = login(app, org["admin"])
    page = admin.get("/console/committee").text
    table = page.split('id="rectification"')[1].split("</table>")[0]
    row_a = re.search(r'<tr class="rect-overdue">(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(?:<a[^>]*>)?([^<]*)", row_a)
    assert cells == ["第一党支部", "2", "1", "0", "0"]
    assert "第二党支部" in table and "张党员" not in table
    assert admin.get(f"{base(org)}/{item_id}").status_code == 200


def test_an_overdue_item_on_the_branch_home_links_to_the_lists(app, org):
    client = login(app, org["sec"])
    add(client, org, deadline="2026-09-05")
    alerts = client.get(f"/console/branch/{org['a'].id}").text.split('id="alerts-h"')[1]
    assert "整改：【编号1】问题清单已逾期 5 天" in alerts
    assert f'href="{base(org)}">去处理' in alerts
