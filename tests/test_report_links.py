"""The monthly report sent upward: a signed, expiring download link to each committee admin."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from handlers.reports.links import monthly_report_links
from models.base import db
from models.outbox import OutboxMessage
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
FIRST = datetime(2026, 12, 1, 8, 0, tzinfo=SH)


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        committee = f.committee("示范党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        admin = f.member("赵管理员", a, roles="committee_admin", phone="13800000001")
        f.member("王书记", a, roles="secretary", phone="13800000002")
        f.member("李党员", b, phone="13800000003")
        other = f.branch("外支部", f.committee("另一个党委"))
        outsider = f.member("外党委管理员", other, roles="committee_admin", phone="13800000004")
    return {"admin": admin, "outsider": outsider, "a": a, "b": b}


def _link(text: str) -> str:
    return text.split("：")[-1].strip().removeprefix("http://127.0.0.1:5000")


def test_on_the_first_each_committee_admin_gets_last_months_link(app, org, settings):
    with app.app_context(), db.connection_context():
        rows = monthly_report_links(FIRST, settings)
    assert {r.target_id for r in rows} == {org["admin"].id, org["outsider"].id}
    (mine,) = [r for r in rows if r.target_id == org["admin"].id]
    assert (mine.kind, mine.period) == ("monthly_report", "2026-11")
    assert (
        "2026年11月的月报已生成" in mine.payload["text"] and "7 天内有效" in mine.payload["text"]
    )
    with time_machine.travel(FIRST + timedelta(minutes=1), tick=False):
        answer = app.test_client().get(_link(mine.payload["text"]))
    assert answer.status_code == 200
    assert "filename*=UTF-8''" in answer.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(answer.data))
    summary = book.worksheets[0]
    cells = [str(c.value) for row in summary.iter_rows() for c in row if c.value is not None]
    assert any("第一党支部" in c for c in cells) and any("第二党支部" in c for c in cells)
    assert not any("外支部" in c for c in cells)  # only that committee's branches
    assert not any("王书记" in c or "李党员" in c for c in cells)  # no one is named


def test_the_job_sends_it_once_a_month(app, org):
    with time_machine.travel(FIRST, tick=False):
        ran = app.test_cli_runner().invoke(args=["jobs", "run", "monthly_report"])
        again = app.test_cli_runner().invoke(args=["jobs", "run", "monthly_report"])
    assert ran.exit_code == 0 and "2 new of 2 message(s)" in ran.output, ran.output
    assert again.exit_code == 0, again.output
    with app.app_context(), db.connection_context():
        assert OutboxMessage.select().where(OutboxMessage.kind == "monthly_report").count() == 2


def test_an_expired_or_altered_link_is_refused_in_chinese(app, org, settings):
    with app.app_context(), db.connection_context():
        (mine, _) = monthly_report_links(FIRST, settings)
    path = _link(mine.payload["text"])
    client = app.test_client()
    with time_machine.travel(FIRST + timedelta(days=8), tick=False):
        late = client.get(path)
    assert late.status_code == 400 and "这个下载链接已过期（有效 7 天）" in late.text
    with time_machine.travel(FIRST + timedelta(minutes=1), tick=False):
        forged = client.get(path[:-3] + "abc")
    assert forged.status_code == 400 and "下载链接无效" in forged.text
