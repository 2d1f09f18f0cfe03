"""The console's messages page: sent and undelivered messages, sending again, the channel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.clock import utcnow
from models.audit import AuditEntry
from models.base import db
from models.outbox import BranchChannel, OutboxMessage
from tests import factories as f
from tests.support.console import login, post

ROBOT_KEY = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        a, b = f.branch("第一党支部"), f.branch("第二党支部")
        sec = f.member("王书记", a, roles="secretary", phone="13800000001")
        zhang = f.member("张三", a, phone="13800000002")
        secb = f.member("李书记", b, roles="secretary", phone="13800000003")
        BranchChannel.create(branch=a, kind="wecom_robot", target=ROBOT_KEY)
        now = utcnow()

        def row(kind, target_type, target_id, status, text, branch=a):
            return OutboxMessage.create(
                kind=kind,
                target_type=target_type,
                target_id=target_id,
                period=f"{kind}-{target_id}",
                payload=json.dumps({"text": text}, ensure_ascii=False),
                branch=branch,
                status=status,
                next_attempt_at=now,
                last_error="群机器人密钥无效（93000）" if status == "dead" else "",
            )

        sent = row("study_prompt", "branch", a.id, "sent", "【今日学习】党章总纲")
        dead = row("dues_personal", "member", zhang.id, "dead", "张三同志，您的党费…")
        other = row("study_prompt", "branch", b.id, "dead", "别的支部", branch=b)
    return {"a": a, "sec": sec, "secb": secb, "sent": sent, "dead": dead, "other": other}


def path(org: dict[str, Any], rest: str = "") -> str:
    return f"/console/branch/{org['a'].id}/messages{rest}"


def test_the_branchs_messages_with_whom_they_were_for(app, org):
    client = login(app, org["sec"])
    page = client.get(path(org))
    assert page.status_code == 200
    assert (
        "本支部群" in page.text and "【今日学习】党章总纲" in page.text and "学习提醒" in page.text
    )
    assert "张三" in page.text and "群机器人密钥无效（93000）" in page.text
    assert "别的支部" not in page.text and "1 条消息未能送达" in page.text
    dead_only = client.get(path(org, "?status=dead"))
    assert "张三同志" in dead_only.text and "党章总纲" not in dead_only.text


def test_an_undelivered_message_is_sent_again(app, org):
    client = login(app, org["sec"])
    again = post(client, path(org, f"/{org['dead'].id}/again"), page=path(org))
    assert again.status_code == 303
    with app.app_context(), db.connection_context():
        row = OutboxMessage.get_by_id(org["dead"].id)
        (entry,) = AuditEntry.select().where(AuditEntry.action == "message.send_again")
    assert (row.status, row.attempts) == ("pending", 0)
    assert (entry.actor_id, entry.door, entry.target) == (
        org["sec"].id,
        "console",
        f"outbox:{row.id}",
    )
    twice = post(client, path(org, f"/{org['sent'].id}/again"), page=path(org))
    assert twice.status_code == 400 and "只有未能送达的消息可以重新发送" in twice.text
    other = post(client, path(org, f"/{org['other'].id}/again"), page=path(org))
    assert other.status_code == 404  # another branch's message is not found here
    with app.app_context(), db.connection_context():
        assert OutboxMessage.get_by_id(org["other"].id).status == "dead"


def test_the_robot_key_is_write_only_and_kept_when_left_empty(app, org):
    client = login(app, org["sec"])
    page = client.get(path(org)).text
    assert ROBOT_KEY not in page and "0a1b" in page  # shown masked only
    kept = post(
        client, path(org, "/channel"), {"kind": "wecom_robot", "nudge": "on"}, page=path(org)
    )
    assert kept.status_code == 303
    with app.app_context(), db.connection_context():
        channel = BranchChannel.get(BranchChannel.branch == org["a"].id)
    assert channel.target == ROBOT_KEY and channel.nudge_enabled and not channel.mention
    with app.app_context(), db.connection_context():
        (entry,) = AuditEntry.select().where(AuditEntry.action == "channel.set")
    assert entry.actor_id == org["sec"].id and ROBOT_KEY not in entry.before + entry.after
    bad = post(client, path(org, "/channel"), {"kind": "wecom_appchat"}, page=path(org))
    assert bad.status_code == 400 and "请填写群聊 ID（chatid）" in bad.text
    spaced = post(
        client, path(org, "/channel"), {"kind": "wecom_robot", "target": "a b"}, page=path(org)
    )
    assert spaced.status_code == 400 and "不含空格" in spaced.text
    with app.app_context(), db.connection_context():
        assert BranchChannel.get(BranchChannel.branch == org["a"].id).target == ROBOT_KEY


def test_other_branches_and_members_are_refused(app, org):
    assert login(app, org["secb"]).get(path(org)).status_code == 403
