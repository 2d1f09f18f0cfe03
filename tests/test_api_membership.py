"""Leaving and transfers over real HTTP: the committee admin's two routes, what a member who
left can still do (nothing: the token answers 401, the bot treats the account as unbound), and
who may not call them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.meetings import Attendance
from models.membership import Departure, Transfer
from models.org import Member
from models.study import StudyCheckin
from tests import factories as f
from tests.support.api import Env
from tests.support.apps import make_driver
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SH)
LEAVE = {"reason": "transfer_out", "left_on": "2026-12-07"}


@pytest.fixture
def env(make_env: Any) -> Env:
    built = make_env(api={"login_rate_per_minute": 1000})
    with built.ctx():
        f.bound(built.people["m1"], "oa-m1", app="oa")
    return built


def post(env: Env, who: str, path: str, body: dict[str, Any]) -> Any:
    with time_machine.travel(NOW, tick=False):
        return env.api.post(f"/api/v1{path}", token=env.token(who), json=body)


def test_the_committee_admin_records_a_departure_and_every_way_in_ends(env: Env):
    m1 = env.people["m1"]
    with time_machine.travel(NOW, tick=False):
        token = env.token("m1")
        assert env.api.get("/api/v1/me", token=token).status_code == 200
    done = post(env, "admin", f"/branch/members/{m1.id}/leave", LEAVE)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["member"] == {"id": m1.id, "name": "党员丙"}
    assert (body["reason"], body["reason_label"], body["left_on"]) == (
        "transfer_out",
        "转出",
        "2026-12-07",
    )
    assert body["branch"]["name"] == "第一党支部"
    assert (body["bindings_removed"], body["sessions_ended"]) == (2, 1)
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        revoked = env.api.get("/api/v1/me", token=token)
        assert (revoked.status_code, revoked.json()["errcode"]) == (401, "token_revoked")
        assert env.login_openid("mini-m1")["bound"] is False
        reply = make_driver(env.settings, env.server.url).send_text("oa-m1", "我的").reply
    assert "您的微信尚未绑定党员信息" in reply
    again = post(env, "admin", f"/branch/members/{m1.id}/leave", LEAVE)
    assert (again.status_code, again.json()["errcode"]) == (409, "already_left")
    assert "党员丙已于2026年12月7日办理离开（转出），不能重复办理" in again.json()["errmsg"]


@pytest.mark.parametrize("who", ["sec", "secb", "secx", "mb"])
def test_only_the_committee_admin_may_record_a_departure_or_a_transfer(env: Env, who: str):
    m1, b = env.people["m1"], env.branches["B"]
    refused = post(env, who, f"/branch/members/{m1.id}/leave", LEAVE)
    assert (refused.status_code, refused.json()["errcode"]) == (403, "forbidden")
    assert "只有党委管理员可以办理" in refused.json()["errmsg"]
    moved = post(
        env,
        who,
        f"/branch/members/{m1.id}/transfer",
        {"to_branch_id": b.id, "moved_on": "2026-12-07"},
    )
    assert moved.status_code == 403
    with env.ctx():
        assert Member.get_by_id(m1.id).status == "full"
        assert Member.get_by_id(m1.id).branch_id == env.branches["A"].id
        assert not Departure.select().exists() and not Transfer.select().exists()


def test_a_transfer_takes_the_members_records_to_the_new_branch(env: Env):
    m2, a, b = env.people["m2"], env.branches["A"], env.branches["B"]
    with env.ctx():
        StudyCheckin.create(member=m2, day=date(2026, 12, 1), reflection="学习体会")
        meet(a, "lesson", NOW - timedelta(days=3), present=[m2])
    body = {"to_branch_id": b.id, "moved_on": "2026-12-06"}
    done = post(env, "admin", f"/branch/members/{m2.id}/transfer", body)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert (answer["from_branch"]["id"], answer["to_branch"]["id"], answer["moved_on"]) == (
        a.id, b.id, "2026-12-06"
    )  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        in_b = env.api.get("/api/v1/branch/members", token=env.token("secb")).json()
        in_a = env.api.get("/api/v1/branch/members", token=env.token("sec")).json()
    assert m2.id in [i["id"] for i in in_b["items"]]
    assert m2.id not in [i["id"] for i in in_a["items"]]
    with env.ctx():
        assert StudyCheckin.select().where(StudyCheckin.member == m2.id).count() == 1
        assert Attendance.select().where(Attendance.member == m2.id).count() == 1
        (move,) = Transfer.select()
        assert (move.from_branch_id, move.to_branch_id, move.moved_on) == (
            a.id,
            b.id,
            date(2026, 12, 6),
        )
    elsewhere = {"to_branch_id": env.branches["X"].id, "moved_on": "2026-12-07"}
    refused = post(env, "admin", f"/branch/members/{m2.id}/transfer", elsewhere)
    assert (refused.status_code, refused.json()["errcode"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("body", "status", "errcode"),
    [
        ({"reason": "retired", "left_on": "2026-12-07"}, 400, "invalid_field"),
        ({"reason": "died", "left_on": "2026-12-08"}, 400, "day_ahead"),
        ({"reason": "died"}, 400, "missing_field"),
    ],
)
def test_a_bad_departure_is_refused_and_changes_nothing(env: Env, body, status, errcode):
    m1 = env.people["m1"]
    refused = post(env, "admin", f"/branch/members/{m1.id}/leave", body)
    assert (refused.status_code, refused.json()["errcode"]) == (status, errcode)
    with env.ctx():
        assert Member.get_by_id(m1.id).status == "full" and not Departure.select().exists()


def test_the_committee_admin_cannot_record_their_own_departure(env: Env):
    admin = env.people["admin"]
    refused = post(env, "admin", f"/branch/members/{admin.id}/leave", LEAVE)
    assert (refused.status_code, refused.json()["errcode"]) == (422, "cannot_leave_self")
    assert "不能为自己办理离开" in refused.json()["errmsg"]
    with env.ctx():
        assert Member.get_by_id(admin.id).status == "full"


def test_the_committee_admin_brings_back_a_member_who_transferred_out(env: Env):
    m1, a, b = env.people["m1"], env.branches["A"], env.branches["B"]
    left = {"reason": "transfer_out", "left_on": "2026-12-05"}
    assert post(env, "admin", f"/branch/members/{m1.id}/leave", left).status_code == 200
    back = {"phone": "13800009999", "returned_on": "2026-12-07", "to_branch_id": b.id,
            "status": "probationary"}  # fmt: skip
    done = post(env, "admin", f"/branch/members/{m1.id}/return", back)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["member"] == {"id": m1.id, "name": "党员丙"}
    assert (answer["status"], answer["status_label"]) == ("probationary", "预备党员")
    assert (answer["left_branch"]["id"], answer["left_on"]) == (a.id, "2026-12-05")
    assert (answer["to_branch"]["id"], answer["returned_on"]) == (b.id, "2026-12-07")
    with time_machine.travel(NOW, tick=False):
        in_b = env.api.get("/api/v1/branch/members", token=env.token("secb")).json()
    assert m1.id in [i["id"] for i in in_b["items"]]
    again = post(env, "admin", f"/branch/members/{m1.id}/return", back)
    assert (again.status_code, again.json()["errcode"]) == (409, "not_left")
    with env.ctx():
        member = Member.get_by_id(m1.id)
        assert (member.status, member.branch_id) == ("probationary", b.id)
        assert not Departure.select().exists()


@pytest.mark.parametrize(
    ("leave", "body", "status", "errcode"),
    [
        ("died", {}, 422, "cannot_return"),
        ("transfer_out", {"phone": "12345"}, 400, "invalid_phone"),
        ("transfer_out", {"returned_on": "2026-12-01"}, 400, "day_before_leaving"),
        ("transfer_out", {"status": "applicant"}, 400, "invalid_field"),
        ("transfer_out", {"phone": None}, 400, "missing_field"),
    ],
)
def test_a_bad_return_is_refused_and_changes_nothing(env: Env, leave, body, status, errcode):
    m1 = env.people["m1"]
    left = {"reason": leave, "left_on": "2026-12-05"}
    assert post(env, "admin", f"/branch/members/{m1.id}/leave", left).status_code == 200
    back = {"phone": "13800009999", "returned_on": "2026-12-07", **body}
    back = {k: v for k, v in back.items() if v is not None}
    refused = post(env, "admin", f"/branch/members/{m1.id}/return", back)
    assert (refused.status_code, refused.json()["errcode"]) == (status, errcode), refused.text
    with env.ctx():
        assert Member.get_by_id(m1.id).status == "left" and Departure.select().exists()


@pytest.mark.parametrize("who", ["sec", "secx"])
def test_only_the_committee_admin_of_the_member_may_bring_them_back(env: Env, who: str):
    m1 = env.people["m1"]
    assert post(env, "admin", f"/branch/members/{m1.id}/leave", LEAVE).status_code == 200
    back = {"phone": "13800009999", "returned_on": "2026-12-07"}
    refused = post(env, who, f"/branch/members/{m1.id}/return", back)
    assert refused.status_code == 403
    with env.ctx():
        assert Member.get_by_id(m1.id).status == "left"
