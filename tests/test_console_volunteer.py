"""The console's volunteer and 学时 pages over HTTP (Flask test client): the branch's entries
confirmed and sent back with a reason, each party member's 学时 and a training recorded for the
members ticked, the committee's people in figures (loaded on its own, never names), the menu,
who may see what, and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers import volunteer as v
from models.audit import AuditEntry
from models.base import db
from models.outbox import OutboxMessage
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry
from tests import factories as f
from tests.support.console import login, post

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SH)


@pytest.fixture(autouse=True)
def pinned() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def org(app: Any, settings: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        people = {
            "a": a,
            "b": b,
            "sec": f.member("王书记", a, roles="secretary", birth_date=date(1980, 1, 1)),
            "m1": f.member("张党员", a, birth_date=date(2000, 5, 1), joined_on=date(2026, 7, 1)),
            "collector": f.member("钱收缴", a, roles="dues_collector"),
            "secb": f.member("赵书记", b, roles="secretary"),
            "admin": f.member("孙管理员", b, roles="committee_admin"),
        }
        people["entries"] = [
            v.log_service(
                people["m1"],
                minutes=minutes,
                description=text,
                day=date(2026, 11, 28),
                source="bot",
                now=NOW,
                settings=settings,
            ).entry.id
            for minutes, text in ((120, "社区清扫"), (90, "慰问困难党员"))
        ]
        return people


def base(org: dict[str, Any], page: str) -> str:
    return f"/console/branch/{org['a'].id}/{page}"


def test_the_secretary_confirms_and_sends_back_entries(app, org):
    client = login(app, org["sec"])
    home = client.get(f"/console/branch/{org['a'].id}").text
    assert f'href="{base(org, "volunteer")}">志愿服务</a>' in home
    assert f'href="{base(org, "training")}">学时</a>' in home
    listing = client.get(base(org, "volunteer")).text
    assert "待确认 2 条" in listing and "社区清扫" in listing and "张党员" in listing
    first, second = org["entries"]
    done = post(client, f"{base(org, 'volunteer')}/{first}/confirm", page=base(org, "volunteer"))
    assert done.status_code == 303
    refused = post(
        client,
        f"{base(org, 'volunteer')}/{second}/reject",
        {"reason": " "},
        page=base(org, "volunteer"),
    )
    assert refused.status_code == 400 and "请写明退回原因" in refused.text
    back = post(
        client,
        f"{base(org, 'volunteer')}/{second}/reject",
        {"reason": "当天未组织活动"},
        page=base(org, "volunteer"),
    )
    assert back.status_code == 303
    twice = post(client, f"{base(org, 'volunteer')}/{first}/confirm", page=base(org, "volunteer"))
    assert twice.status_code == 400 and "已确认，无需再处理" in twice.text
    with app.app_context(), db.connection_context():
        states = [VolunteerEntry.get_by_id(i).status for i in org["entries"]]
        assert states == ["confirmed", "rejected"]
        assert (
            OutboxMessage.select().where(OutboxMessage.kind == "volunteer_rejected").count() == 1
        )
        actions = [(e.door, e.action) for e in AuditEntry.select().order_by(AuditEntry.id)]
        assert actions == [("console", "volunteer.confirm"), ("console", "volunteer.reject")]


def test_the_secretary_records_a_training_and_sees_each_members_hours(app, org):
    client = login(app, org["sec"])
    page = client.get(base(org, "training")).text
    assert "2026年学时" in page and "每名党员每年应不少于 32 学时" in page
    form = {"title": "县委党校专题培训班", "day": "2026-10-15", "hours": "1.5"}
    nobody = post(client, base(org, "training"), form)
    assert nobody.status_code == 400 and "请选择参加培训的党员" in nobody.text
    bad = post(
        client, base(org, "training"), {**form, "hours": "一天", "member_ids": org["m1"].id}
    )
    assert bad.status_code == 400 and "没看懂时长“一天”" in bad.text
    done = post(
        client,
        base(org, "training"),
        {**form, "hours": "32", "member_ids": [org["m1"].id, org["sec"].id]},
    )
    assert done.status_code == 303
    with app.app_context(), db.connection_context():
        assert sorted(r.minutes for r in TrainingRecord.select()) == [1920, 1920]
    page = client.get(base(org, "training")).text
    assert "已达标" in page and "未达标 1 人" in page  # the dues collector has none


def test_members_without_a_managers_role_and_other_branches_are_refused(app, org):
    collector = login(app, org["collector"])
    assert collector.get(base(org, "volunteer")).status_code == 403
    assert collector.get(base(org, "training")).status_code == 403
    other = login(app, org["secb"])
    assert other.get(base(org, "volunteer")).status_code == 403
    first = org["entries"][0]
    refused = post(other, f"/console/branch/{org['b'].id}/volunteer/{first}/confirm",
                   page=f"/console/branch/{org['b'].id}/volunteer")  # fmt: skip
    assert refused.status_code == 404
    assert other.get("/console/committee/people").status_code == 403


def test_an_entry_addressed_under_another_branch_is_not_found(app, org):
    """The committee admin manages both branches: an entry of the first branch confirmed or
    sent back under the second branch's address is not found, and stays as it was."""
    client = login(app, org["admin"])
    first = org["entries"][0]
    other = f"/console/branch/{org['b'].id}/volunteer"
    confirm = post(client, f"{other}/{first}/confirm", page=other)
    reject = post(client, f"{other}/{first}/reject", {"reason": "当天未组织活动"}, page=other)
    assert confirm.status_code == 404 and reject.status_code == 404
    assert "请求的资源不存在" in confirm.text
    with app.app_context(), db.connection_context():
        assert VolunteerEntry.get_by_id(first).status == "pending"
        assert AuditEntry.select().count() == 0 and OutboxMessage.select().count() == 0
    done = post(client, f"{base(org, 'volunteer')}/{first}/confirm", page=base(org, "volunteer"))
    assert done.status_code == 303
    with app.app_context(), db.connection_context():
        assert VolunteerEntry.get_by_id(first).status == "confirmed"


def test_the_committee_sees_figures_per_branch_never_names(app, org):
    client = login(app, org["admin"])
    page = client.get("/console/committee").text
    assert 'hx-get="/console/committee/people"' in page
    rows = client.get("/console/committee/people", headers={"HX-Request": "true"}).text
    assert "<html" not in rows and "第一党支部" in rows and "第二党支部" in rows
    assert "35岁以下" in rows and "61岁及以上" in rows and "今年入党" in rows
    for name in ("张党员", "王书记", "钱收缴"):
        assert name not in rows
    full = client.get("/console/committee/people").text
    assert "<html" in full and "学时与党员结构" in full
