"""No copy of a reflection outlives it: written through the bot (signed XML over HTTP) and the
mini-program API, then passed over by the daily jobs, a reflection is held only by its check-in
— not by the stored callback reply, an outbox message, the audit log, a snapshot or a job's
record — and once retention.reflection_years have passed, the prune job leaves it nowhere."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from peewee import CharField, TextField

from models.registry import ALL_MODELS
from models.study import StudyCheckin
from scheduler import jobs
from scheduler.runner import Runner
from tests.support.api import Env
from tests.support.apps import make_driver

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SH)
WRITTEN = datetime(2023, 12, 5, 9, 0, tzinfo=SH)  # three years and two days before NOW
MARK = "ZQXR"  # in the reflections only
pytestmark = pytest.mark.clock(NOW)
# The daily jobs that read check-ins or write messages and records from them.
JOBS = (
    "study_nudge",
    "study_summary",
    "secretary_digest",
    "branch_snapshots",
    "monthly_report",
    "assessment_month",
)


def holders(mark: str) -> set[str]:
    """Every table.column whose text holds ``mark`` in some row."""
    found = set()
    for model in ALL_MODELS:
        for field in model._meta.sorted_fields:
            if isinstance(field, CharField | TextField):
                if model.select().where(field.contains(mark)).exists():
                    found.add(f"{model._meta.table_name}.{field.name}")
    return found


def test_a_reflection_is_kept_only_by_its_checkin_and_then_nowhere(
    make_env: Any, caplog: pytest.LogCaptureFixture
):
    env: Env = make_env(api={"login_rate_per_minute": 1000})
    # After the app set its level: the lines a deployment logs (DEBUG adds peewee's statements
    # with their parameters, a reflection's text among them).
    caplog.set_level(logging.INFO)
    wechat = make_driver(env.settings, env.server.url)
    with time_machine.travel(WRITTEN, tick=False):
        reply = wechat.send_text("oa-m2", f"学习 今天读了党章第一章{MARK}乙").reply
        assert "学习打卡成功" in reply and MARK not in reply
        answer = env.api.post(
            "/api/v1/study/checkins", token=env.token("m1"), json={"reflection": f"心得{MARK}甲"}
        )
        assert answer.status_code == 201, answer.text
    evening = WRITTEN + timedelta(hours=11)
    with env.ctx(), time_machine.travel(evening, tick=False):
        for job in JOBS:
            jobs.CRON_JOBS[job](env.settings, evening)
        assert holders(MARK) == {"study_checkin.reflection"}
        assert StudyCheckin.select().count() == 2
    with env.ctx():
        assert Runner(env.settings, "test-holder").run_job("prune", now=NOW)
        assert holders(MARK) == set()
        assert StudyCheckin.select().where(StudyCheckin.reflection == "").count() == 2
    assert "Pruned: deleted" in caplog.text  # the app's log is captured here
    assert MARK not in caplog.text
