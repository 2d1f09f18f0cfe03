"""Helpers for the outbox and channel tests: the fake WeChat, a stepped clock, an app wired to
the fake, and the child process the crash and producer tests start. Their ``fake`` and ``env``
fixtures are in tests/outbox/conftest.py.

Run as a child: ``python -m tests.support.outbox drain STEP NTH SHIFT`` (SIGKILL itself at
the NTH time the drain reaches STEP; "none" never) or ``enqueue START_AT``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.channels import ADAPTERS
from bot.fake import FakeClock, FakeWeChat
from core.clock import UTC, utcnow
from handlers.outbox import Clock, DrainReport, Hook, drain
from models.base import db

APPID = "wxoutboxtest00001"
SECRET = "outbox-test-app-secret-5e1d0c"
CORP_SECRET = "outbox-test-corp-secret-9a7c31"
AGENT_ID = 1000002
TEMPLATE_ID = "tpl-remind-01"
SUBSCRIBE_ID = "tpl-subscribe-01"
ROBOT = "demo-robot-5f0c2a9d-7b1e-4c1a"
WEBHOOK = "/cgi-bin/webhook/send"

# Fast retries: tests move the drain's clock instead of waiting. The read timeout is many times
# what the fake takes to answer on a busy machine; claim_timeout_seconds is the least it allows.
FAST_OUTBOX: dict[str, Any] = {
    "batch_size": 50,
    "concurrency": 2,
    "max_attempts": 4,
    "backoff_base_seconds": 10.0,
    "backoff_factor": 2.0,
    "backoff_cap_seconds": 3600.0,
    "backoff_jitter": 0.5,
    "claim_timeout_seconds": 60,
    "drain_max_seconds": 5.0,
    "connect_timeout_seconds": 1.0,
    "read_timeout_seconds": 5.0,
}


class SteppedClock(Clock):
    """The drain's clock and the fake's in step: time moves only when the drain sleeps."""

    def __init__(self, start: float, fake: FakeWeChat | None = None) -> None:
        super().__init__()
        self.epoch = start
        self.fake = fake
        self.slept = 0.0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.epoch, UTC)

    def sleep(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.epoch += seconds
        self.slept += seconds
        if self.fake is not None:
            self.fake.clock.advance(seconds)


def drain_at(
    settings: dict[str, dict[str, Any]],
    now: datetime | None = None,
    *,
    max_seconds: float = 1.0,
    hook: Hook | None = None,
) -> DrainReport:
    """Drain on a clock standing at ``now`` (default: the current time).

    The clock moves only when the drain sleeps, so ``max_seconds`` bounds the drain's own time
    (rows due within it are sent, later ones wait) and never the machine's speed: a busy
    machine cannot cut a drain short.
    """
    start = (now or utcnow()).timestamp()
    return drain(settings, ADAPTERS, clock=SteppedClock(start), max_seconds=max_seconds, hook=hook)


def settings_for(fake: FakeWeChat, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return app overrides pointing every channel at the fake."""
    config: dict[str, dict[str, Any]] = {
        "wechat": {"api_base_url": fake.base_url, "app_id": APPID, "app_secret": SECRET},
        "channels": {
            "wecom_api_base_url": fake.base_url,
            "wecom_corp_id": fake.corp_id,
            "wecom_corp_secret": CORP_SECRET,
            "wecom_agent_id": AGENT_ID,
            "template_id": TEMPLATE_ID,
            "subscribe_template_id": SUBSCRIBE_ID,
        },
        "outbox": dict(FAST_OUTBOX),
    }
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    return config


def fake_server(start: float | None = None) -> FakeWeChat:
    """Return a fake (not started) whose credentials match settings_for()."""
    return FakeWeChat(appid=APPID, secret=SECRET, corp_secret=CORP_SECRET, clock=FakeClock(start))


@dataclass
class Env:
    app: Any
    settings: dict[str, dict[str, Any]]
    fake: FakeWeChat
    db_url: str


def make_env(db_url: str, fake: FakeWeChat, **overrides: dict[str, Any]) -> Env:
    from tests.support.apps import make_app

    app = make_app(db_url, **settings_for(fake, **overrides))
    return Env(app, app.config["ZHIBU"], fake, db_url)


def texts(fake: FakeWeChat, api: str = "robot", target: str | None = None) -> list[str]:
    """Return the content of every accepted text/markdown message, in order."""
    out = []
    for item in fake.messages(api, target):
        body = item["body"]
        section = body.get(body.get("msgtype", "text")) or {}
        out.append(section.get("content", ""))
    return out


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


# ----- child processes ---------------------------------------------------------------------


def _child_app() -> Any:
    from app import create_app

    return create_app()


def _child_drain(step: str, nth: int, shift: float) -> int:
    seen = {"count": 0}

    def hook(name: str, row: Any) -> None:
        if name != step:
            return
        seen["count"] += 1
        if seen["count"] == nth:
            os.kill(os.getpid(), signal.SIGKILL)

    app = _child_app()
    with app.app_context(), db.connection_context():
        start = utcnow() + timedelta(seconds=shift)
        report = drain_at(app.config["ZHIBU"], start, max_seconds=5.0, hook=hook)
    print(report)
    return 0


def _child_enqueue(start_at: float) -> int:
    from handlers.outbox import enqueue
    from models.org import Branch

    app = _child_app()
    with app.app_context(), db.connection_context():
        branch = Branch.select().first()
        time.sleep(max(start_at - time.time(), 0))
        created = enqueue(
            "study_prompt",
            "branch",
            branch.id,
            "2026-03-02",
            {"text": "今日学习：党章第一章"},
            branch_id=branch.id,
            now=utcnow(),
        )
    print("created" if created else "exists")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "drain" and len(argv) == 4:
        return _child_drain(argv[1], int(argv[2]), float(argv[3]))
    if argv and argv[0] == "enqueue" and len(argv) == 2:
        return _child_enqueue(float(argv[1]))
    print("usage: drain STEP NTH SHIFT | enqueue START_AT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
