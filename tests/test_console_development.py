"""The console's development pages over HTTP (Flask test client): the branch's pipeline by
stage with overdue steps marked, recording steps (and their refusals, shown by the form), a
person's page, the committee's counts per branch without names, CSRF and who may see what."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.audit import AuditEntry
from models.base import db
from models.development import DevelopmentRecord
from models.org import Member
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
        appl = f.member("申请人甲", a, status="applicant", phone="13800000006")
        DevelopmentRecord.create(member=appl, applied_on=date(2026, 8, 1))  # talk due 1 Sep
        act = f.member("积极分子乙", a, status="activist", phone="13800000007")
        DevelopmentRecord.create(
            member=act, activist_on=date(2025, 9, 1), contacts_on=date(2025, 9, 1)
        )
        return {
            "a": a,
            "b": b,
            "appl": appl,
            "act": act,
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "org": f.member("李组织", a, roles="organizer", phone="13800000002"),
            "m1": f.member("张党员", a, phone="13800000003"),
            "secb": f.member("赵书记", b, roles="secretary", phone="13800000004"),
            "admin": f.member("钱管理员", b, roles="committee_admin", phone="13800000005"),
            "candb": f.member("发展对象丙", b, status="candidate", phone="13800000008"),
        }


def base(org: dict[str, Any]) -> str:
    return f"/console/branch/{org['a'].id}/development"


def read(app: Any, fn: Any) -> Any:
    with app.app_context(), db.connection_context():
        return fn()


def test_the_pipeline_is_listed_by_stage_from_the_branch_menu(app, org):
    client = login(app, org["sec"])
    home = client.get(f"/console/branch/{org['a'].id}").text
    assert f'href="{base(org)}">发展党员</a>' in home
    page = client.get(base(org)).text
    overdue = re.search(r'<tr class="rect-overdue">(.*?)</tr>', page, re.S).group(1)
    assert "申请人甲" in overdue and "入党谈话" in overdue and "逾期 9 天" in overdue
    assert "入党申请人 <small" in page and "入党积极分子 <small" in page
    assert '确定为发展对象<small class="muted">（2026-09-01 起）' in page
    assert "发展对象丙" not in page  # another branch's


def test_a_step_is_recorded_and_moves_the_status(app, org):
    client = login(app, org["sec"])
    done = post(
        client, base(org), {"member_id": org["appl"].id, "step": "talk", "on": "2026-09-05"}
    )
    assert done.status_code == 303
    person_url = f"{base(org)}/{org['appl'].id}"
    assert done.headers["Location"].endswith(person_url)
    form = {"step": "activist", "on": "2026-09-08"}
    assert post(client, person_url, form).status_code == 303
    assert read(app, lambda: Member.get_by_id(org["appl"].id).status) == "activist"
    page = client.get(person_url).text
    assert "入党积极分子" in page and "2026-09-05" in page and "2026-09-08" in page
    assert read(app, lambda: [e.door for e in AuditEntry.select()]) == ["console", "console"]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (
            {"step": "candidate", "on": "2026-08-31"},
            "最早 2026年9月1日 才能确定为发展对象（本次填写的是 2026年8月31日）。",
        ),
        ({"step": "candidate", "on": "九月"}, "请选择日期（例如 2026-09-01）。"),
        ({"step": "contacts", "on": "2026-09-01"}, "培养联系人应为本支部的一至两名正式党员。"),
        ({"step": "full", "on": "2026-09-01"}, "只有预备党员才能登记“转为正式党员”"),
        ({"step": "review", "on": "2026-09-11"}, "晚于今天"),
    ],
)
def test_a_refused_step_says_why_keeps_what_was_typed_and_writes_nothing(app, org, form, message):
    client = login(app, org["sec"])
    before = read(app, lambda: list(DevelopmentRecord.select().dicts()))
    page = post(client, base(org), {"member_id": org["act"].id, **form})
    assert page.status_code == 400 and message in page.text
    assert f'value="{form["on"]}"' in page.text
    assert read(app, lambda: list(DevelopmentRecord.select().dicts())) == before
    assert read(app, lambda: Member.get_by_id(org["act"].id).status) == "activist"


def test_only_the_branchs_own_managers_see_it_and_forms_need_the_csrf_token(app, org):
    other = login(app, org["secb"])
    assert other.get(base(org)).status_code == 403
    assert other.get(f"{base(org)}/{org['appl'].id}").status_code == 404
    b_url = f"/console/branch/{org['b'].id}/development/{org['appl'].id}"
    assert other.get(b_url).status_code == 404  # A's person under B's address
    admin = login(app, org["admin"])
    assert admin.get(base(org)).status_code == 403
    assert admin.get(f"/console/branch/{org['b'].id}/development").status_code == 403
    sec = login(app, org["sec"])
    forged = sec.post(
        base(org), data={"member_id": org["appl"].id, "step": "talk", "on": "2026-09-05"}
    )
    assert forged.status_code == 400 and "页面已过期" in forged.text
    assert read(app, lambda: DevelopmentRecord.get(member=org["appl"].id).talked_on) is None


def test_the_menu_shows_the_page_only_to_whoever_may_open_it(app, org):
    """The committee admin (and a branch committee member without a manager's role) would be
    refused the pipeline: the menu does not offer it to them; its managers see it."""
    with app.app_context(), db.connection_context():
        propaganda = f.member("周宣传", org["a"], roles="propaganda", phone="13800000009")
    admin = login(app, org["admin"])
    for branch in (org["a"], org["b"]):
        home = admin.get(f"/console/branch/{branch.id}").text
        menu = home.split('aria-label="主导航"')[1].split("</nav>")[0]
        assert "星级评定" in menu and "发展党员" not in menu
        assert admin.get(f"/console/branch/{branch.id}/development").status_code == 403
    home = login(app, propaganda).get(f"/console/branch/{org['a'].id}").text
    assert "发展党员</a>" not in home and ">学习</a>" in home
    for manager in ("sec", "org"):
        home = login(app, org[manager]).get(f"/console/branch/{org['a'].id}").text
        assert f'href="{base(org)}">发展党员</a>' in home


def test_the_committee_sees_counts_per_branch_and_no_names(app, org):
    admin = login(app, org["admin"])
    page = admin.get("/console/committee").text
    table = page.split('id="development"')[1].split("</table>")[0]
    row_a = re.search(r'<tr class="rect-overdue">(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)", row_a)
    assert cells == ["第一党支部", "1", "1", "0", "0", "2"]
    assert "第二党支部" in table
    for name in ("申请人甲", "积极分子乙", "发展对象丙"):
        assert name not in page


def test_an_overdue_step_on_the_branch_home_links_to_the_pipeline(app, org):
    client = login(app, org["sec"])
    alerts = client.get(f"/console/branch/{org['a'].id}").text.split('id="alerts-h"')[1]
    assert "发展党员：申请人甲 于 2026年8月1日 递交入党申请，谈话已逾期 9 天" in alerts
    assert f'href="{base(org)}">去处理' in alerts


def test_the_committee_admin_sees_how_many_steps_are_overdue_on_the_branch_home_not_who(app, org):
    admin = login(app, org["admin"])
    alerts = admin.get(f"/console/branch/{org['a'].id}").text.split('id="alerts-h"')[1]
    assert "发展党员：2 人的入党谈话或培养考察已逾期" in alerts  # the talk, the review
    assert "申请人甲" not in alerts and "积极分子乙" not in alerts
    assert f'href="{base(org)}"' not in alerts


def test_a_step_is_corrected_and_the_latest_removed_on_the_persons_page(app, org):
    client = login(app, org["sec"])
    person_url = f"{base(org)}/{org['appl'].id}"
    assert post(client, person_url, {"step": "talk", "on": "2026-09-05"}).status_code == 303
    assert post(client, person_url, {"step": "activist", "on": "2026-09-08"}).status_code == 303
    page = client.get(person_url).text
    assert "更正已登记的步骤" in page
    assert "只能删除最近登记的一步：<strong>确定为入党积极分子（2026-09-08）</strong>" in page
    late = post(client, f"{person_url}/correct", {"target": "talk", "on": "2026-09-09"},
                page=person_url)  # fmt: skip
    assert late.status_code == 400
    assert "“确定为入党积极分子”的日期 2026年9月8日 早于“入党谈话”的日期 2026年9月9日" in late.text
    assert 'value="2026-09-09"' in late.text  # what was typed stays in its form
    fixed = post(client, f"{person_url}/correct", {"target": "talk", "on": "2026-09-06"},
                 page=person_url)  # fmt: skip
    assert fixed.status_code == 303
    blank = post(client, f"{person_url}/remove", {"step": "activist", "reason": " "},
                 page=person_url)  # fmt: skip
    assert blank.status_code == 400 and "请写明删除这一步的原因。" in blank.text
    assert read(app, lambda: Member.get_by_id(org["appl"].id).status) == "activist"
    gone = post(client, f"{person_url}/remove", {"step": "activist", "reason": "支委会尚未讨论"},
                page=person_url)  # fmt: skip
    assert gone.status_code == 303
    record = read(app, lambda: DevelopmentRecord.get(member=org["appl"].id))
    assert (record.talked_on, record.activist_on) == (date(2026, 9, 6), None)
    assert read(app, lambda: Member.get_by_id(org["appl"].id).status) == "applicant"
    actions = read(app, lambda: [(e.door, e.action) for e in AuditEntry.select()][-2:])
    assert actions == [
        ("console", "development.step_correct"),
        ("console", "development.step_remove"),
    ]


def test_a_person_corrected_under_another_branchs_address_is_not_found(app, org):
    admin_a = login(app, org["sec"])
    wrong = f"/console/branch/{org['b'].id}/development/{org['appl'].id}"
    done = post(admin_a, f"{wrong}/remove", {"step": "apply", "reason": "登记有误"},
                page=f"{base(org)}/{org['appl'].id}")  # fmt: skip
    assert done.status_code == 404
    assert read(app, lambda: DevelopmentRecord.get(member=org["appl"].id).applied_on) == date(
        2026, 8, 1
    )
