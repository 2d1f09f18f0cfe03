"""`flask --app app outbox drain --forever`: a drain process of its own (deploy's zhibu-drain
unit, beside the scheduler's). It keeps sending what is enqueued after it started, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from core.clock import utcnow
from handlers import outbox
from models.outbox import OutboxMessage
from tests import factories as f
from tests.support.outbox import ROBOT, Env, texts
from tests.support.procs import ROOT, clean_env, python, stop_process

pytestmark = pytest.mark.process


def _wait_sent(count: int, deadline: float = 120.0) -> None:
    """Poll until `count` rows are sent (a generous bound for a loaded machine)."""
    end = time.monotonic() + deadline
    while OutboxMessage.select().where(OutboxMessage.status == "sent").count() < count:
        assert time.monotonic() < end, "the drain process did not send in time"
        time.sleep(0.2)


def test_a_forever_drain_sends_what_comes_later_and_stops_on_sigterm(env: Env):
    br = f.branch()
    outbox.set_branch_channel(br.id, "wecom_robot", ROBOT, utcnow())

    def put(period: str, text: str) -> None:
        outbox.enqueue("study_prompt", "branch", br.id, period, {"text": text},
                       branch_id=br.id, now=utcnow())  # fmt: skip

    put("p1", "第一条")
    child_env = clean_env(
        ZHIBU_DATABASE__URL=env.db_url,
        ZHIBU_WECHAT__API_BASE_URL=env.fake.base_url,
        ZHIBU_CHANNELS__WECOM_API_BASE_URL=env.fake.base_url,
        ZHIBU_SCHEDULER__OUTBOX_DRAIN_SECONDS="1",
    )
    proc = subprocess.Popen(
        python("-m", "flask", "--app", "app", "outbox", "drain", "--forever"),
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_sent(1)
        put("p2", "第二条")  # enqueued after the drain started and went idle
        _wait_sent(2)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        stop_process(proc)
    assert proc.returncode == 0, output
    assert "sent 1" in output
    assert sorted(texts(env.fake)) == ["第一条", "第二条"]
