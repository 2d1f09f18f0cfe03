"""N2: the drain SIGKILLed at each step of a send, then restarted, against the fake.

The drain runs in a child process (``python -m tests.support.outbox drain STEP NTH``) that
kills itself with SIGKILL the NTH time it reaches STEP: "claimed" (rows claimed, nothing sent),
"answered" (the robot accepted a message, nothing recorded yet) or "recorded" (the outcome is
committed). A second child, started as if ``claim_timeout_seconds`` had passed, finishes the
work. The fake's record of accepted messages is the truth: nothing may be missing, and a
message may appear twice only after an "answered" kill, and then only the one in flight.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter

import pytest

from core.clock import utcnow
from handlers import outbox
from models.outbox import OutboxMessage
from tests import factories as f
from tests.support.outbox import (
    ROBOT,
    Env,
    drain_at,
    texts,
)
from tests.support.procs import ROOT, clean_env, python

RESTART_SHIFT = 61  # seconds: past FAST_OUTBOX's claim_timeout_seconds (60)


def run_child(env: Env, step: str, nth: int, shift: float = 0.0) -> subprocess.CompletedProcess:
    child_env = clean_env(
        ZHIBU_DATABASE__URL=env.db_url,
        ZHIBU_WECHAT__API_BASE_URL=env.fake.base_url,
        ZHIBU_CHANNELS__WECOM_API_BASE_URL=env.fake.base_url,
        ZHIBU_OUTBOX__CONCURRENCY="1",
        ZHIBU_OUTBOX__CLAIM_TIMEOUT_SECONDS="60",
        ZHIBU_OUTBOX__CONNECT_TIMEOUT_SECONDS="1",
        ZHIBU_OUTBOX__READ_TIMEOUT_SECONDS="5",
    )
    cmd = python("-m", "tests.support.outbox", "drain", step, str(nth), str(shift))
    return subprocess.run(
        cmd, cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=600, check=False
    )


def killed(proc: subprocess.CompletedProcess) -> bool:
    return proc.returncode == -signal.SIGKILL


def setup_rows(env: Env, n: int = 3) -> list[str]:
    br = f.branch()
    outbox.set_branch_channel(br.id, "wecom_robot", ROBOT, utcnow())
    contents = [f"第{i}条提醒" for i in range(n)]
    for i, text in enumerate(contents):
        outbox.enqueue("study_prompt", "branch", br.id, f"p{i}", {"text": text},
                       branch_id=br.id, now=utcnow())  # fmt: skip
    return contents


def finish(env: Env) -> None:
    """Restart after the crash (a new process, the dead claim expired) and check it is done."""
    proc = run_child(env, "none", 0, RESTART_SHIFT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0
    before = len(env.fake.received)
    drain_at(env.settings)  # and nothing is left to send
    assert len(env.fake.received) == before


@pytest.mark.parametrize(
    ("step", "nth"),
    [("claimed", 1)] + [(s, n) for s in ("answered", "recorded") for n in (1, 2, 3)],
)
def test_a_drain_killed_at_each_step_loses_nothing_and_duplicates_at_most_the_one_in_flight(
    env: Env, step: str, nth: int
):
    contents = setup_rows(env)
    proc = run_child(env, step, nth)
    assert killed(proc), (proc.returncode, proc.stderr[-2000:])
    sent_before_restart = Counter(texts(env.fake))
    if step == "claimed":
        assert sent_before_restart == Counter()
        assert OutboxMessage.select().where(OutboxMessage.status == "sending").count() == 3
    else:
        assert sent_before_restart == Counter(contents[:nth])
    finish(env)
    counts = Counter(texts(env.fake))
    assert set(counts) == set(contents)  # nothing lost
    expected = {c: 1 for c in contents}
    if step == "answered":
        expected[contents[nth - 1]] = 2  # the one in flight, once more
    assert counts == expected


def test_a_split_message_resumes_after_the_last_recorded_part(env: Env):
    br = f.branch()
    outbox.set_branch_channel(br.id, "wecom_robot", ROBOT, utcnow())
    text = "\n".join(f"第{i}行：" + "学" * 100 for i in range(20))  # about 6 KB: 4 parts
    outbox.enqueue("secretary_digest", "branch", br.id, "d", {"text": text},
                   branch_id=br.id, now=utcnow())  # fmt: skip
    assert killed(run_child(env, "recorded", 1))  # part 1 recorded
    assert killed(run_child(env, "answered", 1, RESTART_SHIFT))  # part 2 sent, not recorded
    finish_shift = RESTART_SHIFT * 2
    proc = run_child(env, "none", 0, finish_shift)
    assert proc.returncode == 0, proc.stderr[-2000:]
    parts = texts(env.fake)
    assert OutboxMessage.get().status == "sent"
    numbered = Counter(p.rsplit("\n", 1)[-1] for p in parts)
    n = len(numbered)
    assert n >= 3
    expected = {f"（内容较长，已分条发送 {i}/{n}）": 1 for i in range(1, n + 1)}
    expected[f"（内容较长，已分条发送 2/{n}）"] = 2  # the part in flight at the kill
    assert numbered == expected
    body = "\n".join(p.rsplit("\n", 1)[0] for p in dict.fromkeys(parts))
    assert body == text


def test_kills_in_a_row_add_at_most_one_copy_per_answered_kill(env: Env):
    contents = setup_rows(env, 4)
    shift = 0
    for step, nth in (("claimed", 1), ("recorded", 1), ("answered", 1), ("answered", 1)):
        assert killed(run_child(env, step, nth, shift)), step
        shift += RESTART_SHIFT
    proc = run_child(env, "none", 0, shift)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = Counter(texts(env.fake))
    assert set(counts) == set(contents)
    assert sum(counts.values()) - len(contents) <= 2  # two "answered" kills: two copies at most
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0
