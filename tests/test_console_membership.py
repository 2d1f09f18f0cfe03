"""办理离开 and 转接组织关系 on a member's console page: for the committee admin only, refused by
the form with what was typed, and what the page shows afterwards."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.base import db
from models.console import ConsoleSession
from models.membership import Departure, Transfer
from models.org import Member
from models.study import StudyCheckin
from tests import factories as f
from tests.support.console import login, post
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SH)


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        with app.app_context(), db.connection_context():
            committee = f.committee("测试党委")
            a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
            people = {
                "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
                "secb": f.member("李书记", b, roles="secretary", phone="13800000002"),
                "admin": f.member("赵管理员", a, roles="committee_admin", phone="13800000003"),
                "zhang": f.member("张党员", a, roles="organizer", phone="13812345678"),
            }
            StudyCheckin.create(member=people["zhang"], day=date(2026, 12, 3), reflection="体会")
            meet(a, "lesson", NOW - timedelta(days=2), present=[people["zhang"]])
    return {"a": a, "b": b, **people}


def _page(org: dict[str, Any], branch: str = "a") -> str:
    return f"/console/branch/{org[branch].id}/members/{org['zhang'].id}"


@pytest.fixture(autouse=True)
def _at_now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_committee_admin_records_a_departure_on_the_members_page(app, org):
    zhang_client = login(app, org["zhang"])  # the organizer's own console session
    admin = login(app, org["admin"])
    page = admin.get(_page(org))
    assert "办理离开" in page.text and "转接组织关系" in page.text
    refused = post(
        admin, f"{_page(org)}/leave", {"reason": "died", "left_on": "2026-12-08"}, _page(org)
    )
    assert refused.status_code == 400 and "离开日期 2026年12月8日 晚于今天" in refused.text
    assert 'id="leave-error"' in refused.text and 'value="2026-12-08"' in refused.text
    done = post(
        admin, f"{_page(org)}/leave", {"reason": "died", "left_on": "2026-12-06"}, _page(org)
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(_page(org))
    shown = admin.get(_page(org)).text
    assert "已于 2026-12-06 离开（去世" in shown and "登记人：赵管理员" in shown
    assert "13812345678" not in shown and "138****5678" not in shown
    assert 'action="' + _page(org) + '/leave"' not in shown  # nothing more to record
    assert zhang_client.get(_page(org)).status_code == 302  # his session ended: to the login
    with app.app_context(), db.connection_context():
        assert Member.get_by_id(org["zhang"].id).status == "left"
        live = ConsoleSession.select().where(
            ConsoleSession.member == org["zhang"].id, ConsoleSession.ended_at.is_null()
        )
        assert not live.exists()
    listed = admin.get(f"/console/branch/{org['a'].id}/members").text
    assert "张党员" not in listed
    assert "张党员" in admin.get(f"/console/branch/{org['a'].id}/members?status=left").text


def test_the_committee_admin_moves_a_member_and_the_page_follows_with_the_records(app, org):
    admin = login(app, org["admin"])
    body = {"to_branch": str(org["b"].id), "moved_on": "2026-12-07"}
    done = post(admin, f"{_page(org)}/transfer", body, page=_page(org))
    assert done.status_code == 303 and done.headers["Location"].endswith(_page(org, "b"))
    secb = login(app, org["secb"])
    shown = secb.get(_page(org, "b")).text
    assert "累计打卡</th><td>1 次" in shown and "出席" in shown  # the first branch's records
    assert (
        "2026-12-07</td><td>第一党支部</td><td>第二党支部</td><td>办理转接</td><td>赵管理员"
        in shown
    )
    assert "转接组织关系" not in shown.split('id="moves-h"')[1].split("</table>")[1]  # no form
    assert login(app, org["sec"]).get(_page(org)).status_code == 404
    with app.app_context(), db.connection_context():
        moved = Member.get_by_id(org["zhang"].id)
        assert (moved.branch_id, moved.roles) == (org["b"].id, "")  # offices stay behind
        assert Transfer.select().count() == 1


@pytest.mark.parametrize("who", ["sec", "secb"])
def test_secretaries_get_no_forms_and_their_posts_are_refused(app, org, who):
    client = login(app, org[who])
    page = _page(org) if who == "sec" else f"/console/branch/{org['b'].id}/members"
    if who == "sec":
        assert "办理离开" not in client.get(page).text
    left = post(client, f"{_page(org)}/leave", {"reason": "died", "left_on": "2026-12-06"}, page)
    moved = post(
        client,
        f"{_page(org)}/transfer",
        {"to_branch": str(org["b"].id), "moved_on": "2026-12-06"},
        page,
    )
    assert left.status_code == moved.status_code == 403
    assert "只有党委管理员可以办理" in left.text or "没有权限" in left.text
    with app.app_context(), db.connection_context():
        assert not Departure.select().exists() and not Transfer.select().exists()
        still = Member.get_by_id(org["zhang"].id)
        assert (still.status, still.branch_id) == ("full", org["a"].id)


def test_forms_without_the_csrf_token_are_refused(app, org):
    admin = login(app, org["admin"])
    refused = admin.post(f"{_page(org)}/leave", data={"reason": "died", "left_on": "2026-12-06"})
    assert refused.status_code == 400 and "页面已过期" in refused.text
    with app.app_context(), db.connection_context():
        assert not Departure.select().exists()


def test_the_committee_admin_brings_back_a_member_who_transferred_out(app, org):
    admin = login(app, org["admin"])
    left = {"reason": "transfer_out", "left_on": "2026-12-05"}
    assert post(admin, f"{_page(org)}/leave", left, _page(org)).status_code == 303
    page = admin.get(_page(org)).text
    assert "办理转回" in page and 'id="return-to"' in page
    # the branch they left is offered first
    assert page.index(">第一党支部</option>") < page.index(">第二党支部</option>")
    body = {"phone": "13812345678", "status": "probationary", "to_branch": str(org["b"].id)}
    refused = post(
        admin, f"{_page(org)}/return", {**body, "returned_on": "2026-12-04"}, _page(org)
    )
    assert refused.status_code == 400 and 'id="return-error"' in refused.text
    assert "转回日期 2026年12月4日 早于离开日期 2026年12月5日" in refused.text
    assert 'value="13812345678"' in refused.text  # what was typed stays in the form
    done = post(admin, f"{_page(org)}/return", {**body, "returned_on": "2026-12-07"}, _page(org))
    assert done.status_code == 303 and done.headers["Location"].endswith(_page(org, "b"))
    shown = login(app, org["secb"]).get(_page(org, "b")).text
    assert "已于" not in shown.split('id="moves-h"')[1].split("</table>")[0]  # no departure
    assert (
        "2026-12-07</td><td>第二党支部</td><td>2026-12-05从第一党支部转出</td><td>赵管理员"
        in shown
    )
    assert "累计打卡</th><td>1 次" in shown  # their records came back with them
    with app.app_context(), db.connection_context():
        back = Member.get_by_id(org["zhang"].id)
        assert (back.status, back.branch_id, back.phone) == (
            "probationary", org["b"].id, "13812345678"
        )  # fmt: skip
        assert not Departure.select().exists()


def test_no_return_form_for_a_death_and_a_secretary_s_post_is_refused(app, org):
    admin = login(app, org["admin"])
    assert (
        post(
            admin, f"{_page(org)}/leave", {"reason": "died", "left_on": "2026-12-05"}, _page(org)
        ).status_code
        == 303
    )
    assert "办理转回" not in admin.get(_page(org)).text
    body = {"phone": "13812345679", "status": "full", "to_branch": str(org["a"].id),
            "returned_on": "2026-12-07"}  # fmt: skip
    refused = post(admin, f"{_page(org)}/return", body, _page(org))
    assert refused.status_code == 400 and "已于2026年12月5日去世，不能办理转回" in refused.text
    sec = login(app, org["sec"])
    assert post(sec, f"{_page(org)}/return", body, _page(org)).status_code == 403
    with app.app_context(), db.connection_context():
        assert Member.get_by_id(org["zhang"].id).status == "left"
