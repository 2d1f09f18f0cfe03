"""Real processes: gunicorn workers and client processes against one database (W1, W2, D1, D2).

Every test starts its own `gunicorn -k gthread` on a free port, talks to it over HTTP from
several client processes or threads, then checks the database and gunicorn's log.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from bot.dispatcher import BUSY_REPLY
from bot.simulate import CallbackDriver
from core.clock import local_now
from models.base import db, is_sqlite
from models.org import Member
from models.study import StudyCheckin
from models.wechat import InboundMessage
from tests import factories as f
from tests.support.apps import make_app, make_driver
from tests.support.procs import Answer, Gunicorn, Job, post_from_processes, post_lanes

LOCK_ERRORS = ("database is locked", "database table is locked", "lock timeout", "deadlock")
ON_POSTGRES = bool(os.environ.get("ZHIBU_TEST_DATABASE_URL"))
# D2: 400 members x 5 messages = 2,000 check-in messages (about 10 s on 2 cores); the slow
# variant (`-m slow`) sends 10,000.
D2_MEMBERS = 400
D2_MESSAGES_EACH = 5


@dataclass
class Deployment:
    """The app's database seen from the test process, and gunicorn serving it."""

    app: Any
    server: Gunicorn
    driver: CallbackDriver

    @property
    def url(self) -> str:
        return self.server.url + "/wechat"

    def count(self, model: Any) -> int:
        with self.app.app_context(), db.connection_context():
            return model.select().count()

    def log_errors(self) -> list[str]:
        """The distinct error lines in gunicorn's log, for failure messages."""
        lines = self.server.log().splitlines()
        return sorted({ln.strip()[:200] for ln in lines if "rror" in ln or "FATAL" in ln})[:20]

    def assert_clean_log(self) -> None:
        log = self.server.log()
        for needle in (*LOCK_ERRORS, "Traceback", "write attempt", "WORKER TIMEOUT"):
            assert needle not in log, f"{needle!r} in gunicorn's log:\n{log[-3000:]}"


def _deploy(db_url: str, tmp_path: Path, app: str = "app:create_app()", **env: str) -> Any:
    application = make_app(db_url)  # migrated and emptied; the test process inspects it
    server = Gunicorn(db_url, tmp_path / "gunicorn.log", app=app, env=env)
    driver = make_driver(application.config["ZHIBU"], "http://unused")
    return application, server, driver


@pytest.fixture
def deployment(db_url: str, tmp_path: Path) -> Iterator[Deployment]:
    application, server, driver = _deploy(db_url, tmp_path)
    server.start()
    try:
        driver.url = server.url + "/wechat"
        yield Deployment(application, server, driver)
    finally:
        server.stop()
        if not db.is_closed():
            db.close()


def _today() -> Any:
    return local_now(ZoneInfo("Asia/Shanghai")).date()


def _flat(answers: list[list[Answer]]) -> list[Answer]:
    return [a for lane in answers for a in lane]


# ---- W1: one message, 300 deliveries, several workers --------------------------------------


def test_the_same_message_300_times_concurrently_gives_one_checkin(
    deployment: Deployment, tmp_path: Path
) -> None:
    d = deployment.driver
    with deployment.app.app_context(), db.connection_context():
        openid = f.bound(f.member("钱七"))
        f.topic(_today(), "学习新党章")
    params, body = d.wrap(d.text_xml(openid, "学习 今天学习了新党章"))
    lanes: list[list[Job]] = [[(params, body.decode())] for _ in range(300)]
    began = time.monotonic()
    answers = _flat(
        post_from_processes(deployment.url, lanes, processes=3, threads=12, workdir=tmp_path)
    )
    elapsed = time.monotonic() - began
    statuses = Counter(status for status, _, _ in answers)
    assert statuses == {200: 300}, (statuses, deployment.log_errors())
    replies = Counter(d.read_reply(text) for _, text, _ in answers)  # decrypts every reply
    assert len(replies) == 1, replies
    (reply,) = replies
    assert reply and reply.startswith("学习打卡成功！") and "《学习新党章》" in reply, reply
    assert deployment.count(StudyCheckin) == 1
    assert deployment.count(InboundMessage) == 1
    deployment.assert_clean_log()
    assert elapsed < 60


# ---- W2: events ---------------------------------------------------------------------------------


def test_fifty_copies_of_one_event_give_one_effect(deployment: Deployment) -> None:
    d = deployment.driver
    with deployment.app.app_context(), db.connection_context():
        openid = f.bound(f.member("孙八"))
    params, body = d.wrap(d.event_xml(openid, "subscribe", create_time=int(time.time())))
    answers = _flat(post_lanes(deployment.url, [[(params, body.decode())]] * 50, threads=25))
    assert Counter(a[0] for a in answers) == {200: 50}
    replies = Counter(d.read_reply(a[1]) for a in answers)
    assert list(replies) == ["孙八同志，欢迎回来！发送“帮助”查看功能。"], replies
    assert deployment.count(InboundMessage) == 1
    deployment.assert_clean_log()


def _copies_of_each(
    d: CallbackDriver, xmls: list[str], copies: int
) -> tuple[list[list[Job]], list[int]]:
    """Each event wrapped once and repeated, interleaved; and which event each lane carries."""
    wrapped = [d.wrap(x) for x in xmls]
    lanes, which = [], []
    for _ in range(copies):
        for i, (params, body) in enumerate(wrapped):
            lanes.append([(params, body.decode())])
            which.append(i)
    return lanes, which


def test_different_events_in_the_same_second_are_distinct(deployment: Deployment) -> None:
    d = deployment.driver
    with deployment.app.app_context(), db.connection_context():
        openid = f.bound(f.member("周九"))
        other = f.bound(f.member("吴十"))
    second = int(time.time())
    xmls = [
        d.event_xml(openid, "subscribe", create_time=second),
        d.event_xml(openid, "SCAN", key="scene-a", create_time=second),
        d.event_xml(openid, "SCAN", key="scene-b", create_time=second),
        d.event_xml(openid, "CLICK", key="MENU_A", create_time=second),
        d.event_xml(openid, "CLICK", key="MENU_B", create_time=second),
        d.event_xml(other, "subscribe", create_time=second),  # another member, same second
    ]
    lanes, which = _copies_of_each(d, xmls, copies=10)
    answers = _flat(post_lanes(deployment.url, lanes, threads=24))
    assert Counter(a[0] for a in answers) == {200: len(lanes)}
    per_event: dict[int, set[str | None]] = {}
    for i, (_, text, _) in zip(which, answers, strict=True):
        per_event.setdefault(i, set()).add(d.read_reply(text))
    assert all(len(replies) == 1 for replies in per_event.values()), per_event
    assert deployment.count(InboundMessage) == len(xmls)
    deployment.assert_clean_log()


def test_unknown_events_and_template_reports_in_the_same_second_are_distinct(
    deployment: Deployment,
) -> None:
    """Events wechatpy does not know (UnknownMessage has no .event) and template-send reports
    (told apart by MsgID, not MsgId) from one account in one second are different events."""
    d = deployment.driver
    second = int(time.time())
    openid = "o-same-second"

    def event(name: str, extra: str) -> str:
        return d.event_xml(openid, name, create_time=second).replace("</xml>", extra + "</xml>")

    xmls = [
        event("weapp_audit_success", "<SuccTime>1</SuccTime>"),
        event(
            "subscribe_msg_popup_event",
            "<SubscribeMsgPopupEvent><List><TemplateId>t1</TemplateId>"
            "<SubscribeStatusString>accept</SubscribeStatusString></List></SubscribeMsgPopupEvent>",
        ),
        event("TEMPLATESENDJOBFINISH", "<MsgID>1001</MsgID><Status>success</Status>"),
        event("TEMPLATESENDJOBFINISH", "<MsgID>1002</MsgID><Status>failed:user block</Status>"),
    ]
    lanes, _ = _copies_of_each(d, xmls, copies=5)
    answers = _flat(post_lanes(deployment.url, lanes, threads=8))
    assert Counter(a[0] for a in answers) == {200: len(lanes)}
    with deployment.app.app_context(), db.connection_context():
        keys = sorted(r.dedupe_key for r in InboundMessage.select())
    assert len(keys) == len(xmls), keys


# ---- D1: connection settings in every worker ----------------------------------------------------


@pytest.fixture
def probe(db_url: str, tmp_path: Path) -> Iterator[Gunicorn]:
    """gunicorn serving the real app plus /_probe/db (tests/support/procs.py:probe_app)."""
    _, server, _ = _deploy(db_url, tmp_path, app="tests.support.procs:probe_app()")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if not db.is_closed():
            db.close()


def _probe_all(server: Gunicorn, n: int = 200) -> list[dict[str, Any]]:
    """Ask many connections at once, until requests have landed on several workers."""
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while True:
        with ThreadPoolExecutor(32) as pool:
            reports += list(
                pool.map(lambda _: requests.get(server.url + "/_probe/db", timeout=10), range(n))
            )
        if len({r.json()["pid"] for r in reports}) >= 2 or time.monotonic() > deadline:
            break
    assert all(r.status_code == 200 for r in reports)
    return [r.json() for r in reports]


def test_every_gunicorn_worker_connection_has_the_configured_settings(probe: Gunicorn) -> None:
    reports = _probe_all(probe)
    if ON_POSTGRES:
        assert Counter(r["lock_timeout"] for r in reports) == {"2s": len(reports)}
    else:
        got = Counter((r["journal_mode"], r["foreign_keys"], r["busy_timeout"]) for r in reports)
        assert got == {("wal", 1, 2000): len(reports)}, got
    assert len({r["pid"] for r in reports}) >= 2  # really several worker processes
    assert len({(r["pid"], r["thread"]) for r in reports}) >= 4  # and several threads


@pytest.mark.parametrize(("configured", "ms"), [(None, 2000), (3.5, 3500)])
def test_every_thread_connection_of_a_fresh_app_has_the_configured_settings(
    db_url: str, configured: float | None, ms: int
) -> None:
    overrides = {"database": {"lock_timeout": configured}} if configured else {}
    app = make_app(db_url, **overrides)
    seen: list[tuple[Any, ...]] = []

    def connect() -> None:
        with app.app_context(), db.connection_context():
            if is_sqlite():
                seen.append(
                    tuple(
                        db.execute_sql(f"PRAGMA {p}").fetchone()[0]
                        for p in ("journal_mode", "foreign_keys", "busy_timeout")
                    )
                )
            else:
                seen.append((db.execute_sql("SHOW lock_timeout").fetchone()[0],))

    try:
        threads = [threading.Thread(target=connect) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        # And the connection the app opens for a request (before_request / teardown; /healthz
        # and /metrics open their own).
        with app.test_request_context("/wechat"):
            app.preprocess_request()
            assert not db.is_closed()
            if is_sqlite():
                seen.append(
                    tuple(
                        db.execute_sql(f"PRAGMA {p}").fetchone()[0]
                        for p in ("journal_mode", "foreign_keys", "busy_timeout")
                    )
                )
            else:
                seen.append((db.execute_sql("SHOW lock_timeout").fetchone()[0],))
        assert db.is_closed()  # closed at the end of the request's app context
    finally:
        if not db.is_closed():
            db.close()
    want = ("wal", 1, ms) if is_sqlite() else (f"{ms}ms" if ms % 1000 else f"{ms // 1000}s",)
    assert seen == [want] * 9


# ---- D2: many writers ---------------------------------------------------------------------------


def _d2(deployment: Deployment, tmp_path: Path, members: int, each: int) -> None:
    d = deployment.driver
    with deployment.app.app_context(), db.connection_context(), db.atomic():
        br = f.branch("并发支部")
        openids = [f.bound(f.member(f"写者{i}", br), f"o-writer-{i}") for i in range(members)]
    lanes: list[list[Job]] = []
    for i, openid in enumerate(openids):
        lane = []
        for k in range(each):
            params, body = d.wrap(d.text_xml(openid, f"学习 第{k}条 来自{i}"))
            lane.append((params, body.decode()))
        lanes.append(lane)
    total = members * each
    assert total >= 2000
    began = time.monotonic()
    answers = post_from_processes(deployment.url, lanes, processes=2, threads=4, workdir=tmp_path)
    elapsed = time.monotonic() - began
    flat = _flat(answers)
    assert len(flat) == total
    bad = [(s, t[:80]) for s, t, _ in flat if s != 200]
    assert bad == [], f"{len(bad)} of {total} not 200: {bad[:3]}; log: {deployment.log_errors()}"
    for i, lane in enumerate(answers):
        replies = [d.read_reply(text) for _, text, _ in lane]
        assert BUSY_REPLY not in replies, (i, replies)
        assert replies[0] and replies[0].startswith("学习打卡成功"), (i, replies[0])
        for r in replies[1:]:
            assert r and r.startswith("您今天已经打过卡了，已用这次的内容更新学习心得"), (i, r)
    with deployment.app.app_context(), db.connection_context():
        query = StudyCheckin.select(StudyCheckin.reflection, Member.name).join(Member)
        rows = {c.member.name: c.reflection for c in query}
        inbound = InboundMessage.select().count()
    assert inbound == total
    assert len(rows) == members
    assert rows == {f"写者{i}": f"第{each - 1}条 来自{i}" for i in range(members)}
    deployment.assert_clean_log()
    print(f"D2: {total} messages in {elapsed:.1f} s ({total / elapsed:.0f}/s)")


def test_concurrent_writers_lose_nothing(deployment: Deployment, tmp_path: Path) -> None:
    _d2(deployment, tmp_path, D2_MEMBERS, D2_MESSAGES_EACH)


@pytest.mark.slow
def test_concurrent_writers_lose_nothing_in_a_10000_message_soak(
    deployment: Deployment, tmp_path: Path
) -> None:
    """The soak version (`pytest -m slow`): 2,000 members x 5 messages."""
    _d2(deployment, tmp_path, 2000, 5)
