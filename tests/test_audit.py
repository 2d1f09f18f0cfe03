"""The audit log: a manager's change through the bot, the API or the console leaves one entry
naming the door, the actor and the changed fields; a refusal leaves none; the database refuses
to change an entry; the committee admin reads the log in the console, nobody else."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from peewee import DatabaseError

from models.audit import AuditEntry
from models.base import db
from tests import factories as f
from tests.support.api import Env
from tests.support.console import login, post

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # a Thursday
START = datetime(2026, 12, 3, 15, 0, tzinfo=SH)
CREATE = "会议 党课 12月3日 15:00 三楼会议室 学习党章"
FORM = {"kind": "lesson", "when": "12月3日 15:00", "place": "三楼会议室", "title": "学习党章"}


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def entries() -> list[AuditEntry]:
    with db.connection_context():
        return list(AuditEntry.select().order_by(AuditEntry.id))


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    """Two branches of one committee and a third of another; a secretary and members each."""
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        x = f.branch("外单位党支部", f.committee("其他党委"))
        people = {
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "m1": f.member("张党员", a, phone="13800000002"),
            "m2": f.member("刘党员", a, phone="13800000003"),
            "secb": f.member("李书记", b, roles="secretary", phone="13800000004"),
            "admin": f.member("赵管理员", b, roles="committee_admin", phone="13800000005"),
            "secx": f.member("钱书记", x, roles="secretary", phone="13800000006"),
        }
        openids = {key: f.bound(p, f"oid-{key}") for key, p in people.items()}
    return {"a": a, "b": b, "x": x, "openid": openids, **people}


def _scheduled(entry: AuditEntry, door: str, actor: Any) -> dict[str, Any]:
    assert (entry.door, entry.action, entry.actor_id) == (door, "meeting.schedule", actor.id)
    assert entry.actor_name == actor.name and entry.target.startswith("meeting:")
    assert entry.summary.startswith("安排会议：") and "党课《学习党章》" in entry.summary
    assert "12月3日" in entry.summary and "15:00" in entry.summary
    assert entry.before == ""
    after = json.loads(entry.after)
    assert after["starts_at"] == START.isoformat() and after["place"] == "三楼会议室"
    assert after["title"] == "学习党章" and after["kind"] == "lesson"
    return after


# ---- the same change through three doors ---------------------------------------------------


def test_scheduling_through_the_bot_is_recorded_as_the_bots(wechat, org):
    with at(NOW):
        reply = wechat.send_text(org["openid"]["sec"], CREATE).reply
    assert reply.startswith("已安排会议"), reply
    (entry,) = entries()
    _scheduled(entry, "bot", org["sec"])
    assert entry.branch_id == org["a"].id and entry.committee_id == org["a"].committee_id


def test_scheduling_through_the_api_is_recorded_as_the_apis(make_env):
    env: Env = make_env(api={"login_rate_per_minute": 1000})
    payload = {"kind": "lesson", "title": "学习党章", "place": "三楼会议室"}
    with at(NOW):
        r = env.api.post(
            "/api/v1/meetings",
            token=env.token("sec"),
            json={**payload, "starts_at": START.isoformat()},
        )
    assert r.status_code == 201, r.text
    with env.ctx():
        (entry,) = list(AuditEntry.select().where(AuditEntry.action == "meeting.schedule"))
        (channel,) = list(AuditEntry.select().where(AuditEntry.action == "channel.set"))
    _scheduled(entry, "api", env.people["sec"])
    assert entry.target == f"meeting:{r.json()['id']}"
    # The branch's robot was set up before (the operator's change): its key stays out.
    assert (channel.actor_name, channel.door) == ("服务器操作员", "cli")
    assert "robot-key" not in channel.before + channel.after + channel.summary
    assert json.loads(channel.after)["target"] == "****"


def test_scheduling_through_the_console_is_recorded_as_the_consoles(app, org):
    with at(NOW):
        client = login(app, org["sec"])
        done = post(client, f"/console/branch/{org['a'].id}/meetings/new", FORM)
    assert done.status_code == 303, done.text
    (entry,) = entries()
    _scheduled(entry, "console", org["sec"])


def test_a_change_keeps_only_the_changed_fields_before_and_after(wechat, org):
    with at(NOW):
        say = wechat.send_text
        mid = say(org["openid"]["sec"], CREATE).reply.split("【编号")[1].split("】")[0]
        reply = say(org["openid"]["sec"], f"修改会议 {mid} 地点 二楼会议室").reply
    assert "二楼会议室" in reply, reply
    change = entries()[-1]
    assert (change.action, change.door, change.target) == (
        "meeting.change",
        "bot",
        f"meeting:{mid}",
    )
    assert json.loads(change.before) == {"place": "三楼会议室"}
    assert json.loads(change.after) == {"place": "二楼会议室"}
    assert change.summary.startswith("修改会议：")


def test_a_refused_change_leaves_no_entry(wechat, org):
    with at(NOW):
        say = wechat.send_text
        assert "只有支部书记" in say(org["openid"]["m1"], CREATE).reply
        assert entries() == []
        mid = say(org["openid"]["sec"], CREATE).reply.split("【编号")[1].split("】")[0]
        assert "本支部" in say(org["openid"]["secb"], f"取消会议 {mid}").reply
        overlap = say(org["openid"]["sec"], "会议 主题党日 12月3日 16:00 广场").reply
        assert "重叠" in overlap, overlap
    assert [e.action for e in entries()] == ["meeting.schedule"]


def test_a_members_check_in_and_sign_in_are_not_recorded(wechat, org):
    with at(NOW):
        assert "学习打卡成功" in wechat.send_text(org["openid"]["m1"], "学习 读党章").reply
    assert entries() == []


# ---- append-only in the database -----------------------------------------------------------


def test_the_database_refuses_to_change_or_delete_an_entry(conn, org):
    from handlers.audit import record

    record(org["sec"], "meeting.schedule", summary="安排会议", branch_id=org["a"].id, now=NOW)
    (entry,) = AuditEntry.select()
    with pytest.raises(DatabaseError, match="cannot be changed"), db.atomic():
        AuditEntry.update(summary="改过了").where(AuditEntry.id == entry.id).execute()
    with pytest.raises(DatabaseError, match="cannot be changed"), db.atomic():
        AuditEntry.delete().where(AuditEntry.id == entry.id).execute()
    (kept,) = AuditEntry.select()
    assert kept.summary == "安排会议"


def test_the_server_operator_is_named_and_the_command_line_is_the_default_door(conn, org):
    from handlers.audit import record

    record(None, "channel.set", summary="设置通知渠道", now=NOW)
    (entry,) = AuditEntry.select()
    assert (entry.actor_id, entry.actor_name, entry.door) == (None, "服务器操作员", "cli")
    assert entry.branch_id is None and entry.committee_id is None


# ---- the console page ------------------------------------------------------------------------


def _seed(app: Any, org: dict[str, Any]) -> None:
    """One entry in each branch of the committee and one of another committee."""
    from handlers.audit import record

    with app.app_context(), db.connection_context():
        for key, branch in (("sec", "a"), ("secb", "b"), ("secx", "x")):
            record(
                org[key],
                "meeting.change",
                summary=f"修改会议：{org[branch].name}的会议",
                target="meeting:1",
                branch_id=org[branch].id,
                before={"place": "三楼会议室"},
                after={"place": "二楼会议室"},
                now=NOW,
            )


def test_the_committee_admin_reads_the_log_and_filters_it_by_branch(app, org):
    _seed(app, org)
    with at(NOW):
        client = login(app, org["admin"])
        home = client.get(f"/console/branch/{org['b'].id}")
        assert "/console/audit" in home.text and "操作记录" in home.text
        page = client.get("/console/audit")
        assert page.status_code == 200
        text = page.text
        assert "第一党支部的会议" in text and "第二党支部的会议" in text
        assert "外单位党支部" not in text  # another committee's branch
        assert "三楼会议室 → 二楼会议室" in text
        assert "<td>命令行</td>" in text and "<td>公众号</td>" not in text
        assert "命令行" in text and "修改会议" in text and 'class="scroll"' in text
        only_a = client.get(f"/console/audit?branch={org['a'].id}").text
        assert "第一党支部的会议" in only_a and "第二党支部的会议" not in only_a
        assert client.get(f"/console/audit?branch={org['x'].id}").status_code == 404
        none = client.get("/console/audit?kind=dues").text
        assert "没有符合条件的操作记录" in none


def test_a_secretary_may_not_read_the_log(app, org):
    _seed(app, org)
    with at(NOW):
        client = login(app, org["sec"])
        assert "/console/audit" not in client.get(f"/console/branch/{org['a'].id}").text
        refused = client.get("/console/audit")
    assert refused.status_code == 403 and "修改会议" not in refused.text


# ---- dues and the roster through the API: no code, key or phone number in any entry --------


def test_codes_payments_and_unbinding_are_recorded_without_secrets(make_env):
    from datetime import date

    env: Env = make_env(api={"login_rate_per_minute": 1000})
    sec, m1, new = env.people["sec"], env.people["m1"], env.people["new"]
    with env.ctx():
        f.assess(m1, base_fen=800000, from_month=date(2026, 1, 1))
    token = env.token("sec")
    codes = env.api.post(
        "/api/v1/branch/binding-codes", token=token, json={"member_ids": [new.id]}
    )
    assert codes.status_code == 200, codes.text
    code = codes.json()["issued"][0]["code"]
    paid = env.api.post(
        "/api/v1/dues/payments",
        token=token,
        json={"member_id": m1.id, "months": ["2026-01", "2026-02"], "amount_fen": 24000},
    )
    assert paid.status_code == 201, paid.text
    gone = env.api.post(f"/api/v1/branch/members/{m1.id}/unbind", token=token)
    assert gone.status_code == 200, gone.text
    with env.ctx():
        rows = list(AuditEntry.select().where(AuditEntry.door == "api").order_by(AuditEntry.id))
        phones = [m.phone for m in env.people.values()]
    assert [e.action for e in rows] == ["roster.codes", "dues.payment", "roster.unbind"]
    assert {e.actor_id for e in rows} == {sec.id}
    issued, payment, unbound = rows
    assert json.loads(issued.after) == {"member_ids": [new.id]} and "新党员" in issued.summary
    after = json.loads(payment.after)
    assert after["amount_fen"] == 24000 and after["months"] == ["2026-01-01", "2026-02-01"]
    assert "240.00元" in payment.summary and unbound.target == f"member:{m1.id}"
    for entry in rows:
        text = entry.summary + entry.before + entry.after + entry.target
        assert code not in text and code.replace("-", "") not in text
        assert not any(phone in text for phone in phones)
