"""A 党员大会 or 支委会 without a quorum is not a meeting held, wherever the calendar is read.

The bot's 本月 / 本季度, the 会议 情况 report, GET /api/v1/branch/overview and the secretary's
digest must agree, over real HTTP and real signed callbacks (handlers.calendar for the rule).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from handlers import reminders
from tests import factories as f
from tests.support.api import Env
from tests.support.apps import make_driver
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # 4 days left in November, 35 in the quarter
SHORT = "另有 1 次召开但未达法定人数（不计入）"


def test_the_bot_the_report_the_overview_and_the_digest_agree(env: Env):
    people = env.people
    sec, m1, m2, new, admin = (people[k] for k in ("sec", "m1", "m2", "new", "admin"))
    with env.ctx():
        a = env.branches["A"]
        a.created_at = datetime(2026, 10, 1, tzinfo=SH)  # October is judged, Q3 is not
        a.save()
        f.bound(sec, "oa-sec", app="oa")
        meet(a, "committee", datetime(2026, 10, 12, 9, tzinfo=SH), present=[sec])
        # 1 of 3 committee members; 2 of 5 full members: neither is more than half.
        committee = meet(
            a, "committee", datetime(2026, 11, 9, 9, tzinfo=SH), present=[sec], absent=[m1, admin]
        )
        meet(
            a,
            "general",
            datetime(2026, 11, 16, 14, tzinfo=SH),
            present=[sec, m1],
            absent=[m2, new, admin],
        )
    driver = make_driver(env.settings, env.server.url)
    with time_machine.travel(NOW, tick=False):
        month = driver.send_text("oa-sec", "本月").reply.splitlines()
        quarter = driver.send_text("oa-sec", "本季度").reply.splitlines()
        report = driver.send_text("oa-sec", f"会议 情况 {committee.id}").reply
        view = env.api.get("/api/v1/branch/overview", token=env.token("sec")).json()
        with env.ctx():
            digests = {
                row.target_id: row.payload["text"]
                for row in reminders.secretary_digests(NOW, env.settings)
            }

    assert "至少 2 人" in report and "实到 1 人，不足" in report
    assert f"⏰ 支部委员会会议：已召开 0 次，{SHORT}，还剩 4 天，尚未安排" in month
    assert f"⬜ 支部党员大会：已召开 0 次，{SHORT}，还剩 35 天，尚未安排" in month
    assert f"⬜ 支部党员大会：已召开 0 次，{SHORT}，还剩 35 天，尚未安排" in quarter
    assert "支部委员会会议：10月 ✓1次 · 11月 还剩 4 天（未达法定人数1次） · 12月 未到" in quarter
    assert not any("已完成" in line for line in month if "支部" in line)

    kinds = {k["kind"]: k for k in view["meetings"]}
    for kind, status in (("committee", "due_soon"), ("general", "open")):
        got = {k: kinds[kind][k] for k in ("held", "held_without_quorum", "satisfied", "status")}
        assert got == {"held": 0, "held_without_quorum": 1, "satisfied": 0, "status": status}
    due = {d["kind"]: d for d in view["alerts"]["meetings_due"]["items"]}
    assert due["committee"]["held_without_quorum"] == 1 and "general" not in due

    text = digests[sec.id]
    assert "会议：支部委员会会议2026年11月还剩 4 天，已有 1 次召开但未达法定人数（不计入）" in text
    assert "支部党员大会" not in text  # not due yet: the digest lists what is due
