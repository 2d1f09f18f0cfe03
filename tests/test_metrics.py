"""Seeing it run: /metrics over real HTTP (signed callbacks, API routes, the outbox, jobs, the
lease), who may scrape it, and /healthz with the database up and unreachable.

Counters belong to the process (as under one gunicorn worker), so a test reads how much they
moved between two scrapes; gauges are read from the database at each scrape. Several worker
processes adding up their counters is tests/test_metrics_processes.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from core.clock import utcnow
from core.config import ConfigError
from core.metrics import CALLBACK_OUTCOMES
from handlers import outbox
from models.base import db
from models.outbox import OutboxMessage
from scheduler import jobs, lease
from scheduler.runner import Runner
from tests import factories as f
from tests.support.apps import LiveServer, make_app
from tests.support.outbox import ROBOT, drain_at, fake_server
from tests.support.outbox import make_env as outbox_env
from tests.support.procs import free_port

TOKEN = "metrics-token-of-the-tests-5b8e2c71"
METRICS = {"enabled": True, "token": TOKEN}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    """The suite's app with /metrics switched on behind TOKEN (the `wechat` driver uses it)."""
    application = make_app(db_url, metrics=METRICS)
    yield application
    if not db.is_closed():
        db.close()


def scrape(url: str, token: str = TOKEN) -> Samples:
    """GET /metrics with the token; every sample by name and labels."""
    auth = {"Authorization": f"Bearer {token}"}
    answer = requests.get(url + "/metrics", headers=auth, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return samples(answer.text)


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(seen: Samples, name: str, **labels: str) -> float:
    return seen.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# ---- callbacks ------------------------------------------------------------------------------


def test_signed_callbacks_are_counted_by_outcome_and_timed(wechat, live_server, settings):
    before = scrape(live_server.url)
    xml = wechat.text_xml("stranger-openid", "帮助")
    assert wechat.deliver(xml).status == 200  # answered
    assert wechat.deliver(xml).status == 200  # WeChat's retry: the stored reply
    params, body = wechat.wrap(wechat.text_xml("stranger-openid", "我的"))

    def post(query: dict[str, str], data: bytes) -> int:
        return requests.post(wechat.url, params=query, data=data, timeout=10).status_code

    assert post(dict(params, msg_signature="0" * 40), body) == 403  # a forged signature
    assert post(params, b"<xml><Encrypt>") == 400
    assert post(params, b"x" * (settings.app.max_body_bytes + 1)) == 413
    after = scrape(live_server.url)
    expected = {"answered": 1, "duplicate": 1, "refused": 1, "bad_request": 1, "too_large": 1}
    for outcome in CALLBACK_OUTCOMES:  # busy and error too: none
        times = expected.get(outcome, 0)
        assert moved(before, after, "zhibu_callbacks_total", outcome=outcome) == times, outcome
    assert moved(before, after, "zhibu_callback_seconds_count") == 5
    assert moved(before, after, "zhibu_callback_seconds_sum") > 0


# ---- API requests ---------------------------------------------------------------------------


def test_api_requests_are_counted_by_route_and_status_never_by_raw_path(make_env):
    env = make_env(metrics=METRICS)
    before = scrape(env.server.url)
    token = env.token("m1")  # POST /api/v1/login, 200
    assert env.api.get("/api/v1/me", token=token).status_code == 200
    assert env.api.get("/api/v1/me").status_code == 401
    for member_id in (987654, 987655):
        assert env.api.get(f"/api/v1/development/{member_id}", token=token).status_code == 404
    assert requests.get(env.server.url + "/api/v1/no/such/987656", timeout=10).status_code == 404
    after = scrape(env.server.url)
    counted = {
        ("/api/v1/login", "POST", "200"): 1,
        ("/api/v1/me", "GET", "200"): 1,
        ("/api/v1/me", "GET", "401"): 1,
        ("/api/v1/development/<id:member_id>", "GET", "404"): 2,
        ("unmatched", "GET", "404"): 1,
    }
    for (route, method, status), times in counted.items():
        labels = {"route": route, "method": method, "status": status}
        assert moved(before, after, "zhibu_api_requests_total", **labels) == times, labels
    assert moved(before, after, "zhibu_api_request_seconds_count", route="/api/v1/me") == 2
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any("98765" in route for route in routes)


# ---- the outbox -----------------------------------------------------------------------------


@pytest.fixture
def outbox_app(db_url: str) -> Iterator[Any]:
    """An app whose channels reach the fake WeChat (tests/support/outbox.py), served live."""
    with fake_server() as fake:
        env = outbox_env(db_url, fake, metrics=METRICS)
        server = LiveServer(env.app).start()
        try:
            yield env, server
        finally:
            server.stop()
            if not db.is_closed():
                db.close()


def test_outbox_depth_is_read_at_each_scrape_and_sends_are_timed(outbox_app):
    env, server = outbox_app
    with env.app.app_context(), db.connection_context():
        branch = f.branch()
        outbox.set_branch_channel(branch.id, "wecom_robot", ROBOT, utcnow())
        for period in ("2026-08-17", "2026-08-18", "2026-08-19"):
            outbox.enqueue(
                "study_prompt", "branch", branch.id, period, {"text": f"今日学习 {period}"},
                branch_id=branch.id, now=utcnow(),
            )  # fmt: skip
        OutboxMessage.update(status="dead").where(OutboxMessage.period == "2026-08-17").execute()
    before = scrape(server.url)
    assert value(before, "zhibu_outbox_messages", status="pending") == 2
    assert value(before, "zhibu_outbox_messages", status="dead") == 1
    assert value(before, "zhibu_outbox_messages", status="sending") == 0
    with env.app.app_context(), db.connection_context():
        assert drain_at(env.settings).sent == 2
    after = scrape(server.url)
    assert value(after, "zhibu_outbox_messages", status="pending") == 0
    assert value(after, "zhibu_outbox_messages", status="dead") == 1
    assert moved(before, after, "zhibu_outbox_rows_total", outcome="sent") == 2
    sends = {"channel": "wecom_robot", "result": "ok"}
    assert moved(before, after, "zhibu_outbox_send_seconds_count", **sends) == 2
    assert moved(before, after, "zhibu_outbox_send_seconds_sum", **sends) > 0


# ---- jobs and the lease ---------------------------------------------------------------------


def test_job_runs_are_counted_by_job_and_outcome(conn, live_server, settings, monkeypatch):
    runner = Runner(settings, "metrics-test")
    now = utcnow()
    before = scrape(live_server.url)
    assert runner.run_job("meeting_qr", now=now, tick="t1")
    assert not runner.run_job("meeting_qr", now=now, tick="t1")  # that tick ran: skipped

    def boom(s: Any, at: Any) -> None:
        raise RuntimeError("the job broke")

    monkeypatch.setitem(jobs.CRON_JOBS, "study_prompt", boom)
    assert Runner(settings, "metrics-test").run_job("study_prompt", now=now, tick="t1")
    after = scrape(live_server.url)
    for job, outcome, times in (
        ("meeting_qr", "ok", 1),
        ("meeting_qr", "skipped", 1),
        ("meeting_qr", "failed", 0),
        ("study_prompt", "failed", 1),
    ):
        assert moved(before, after, "zhibu_job_runs_total", job=job, outcome=outcome) == times
    assert moved(before, after, "zhibu_job_seconds_count", job="meeting_qr") == 1
    assert moved(before, after, "zhibu_job_seconds_count", job="study_prompt") == 1


def test_the_lease_holder_is_read_from_the_database_at_each_scrape(conn, live_server, settings):
    nobody = scrape(live_server.url)
    assert value(nobody, "zhibu_scheduler_lease_held") == 0
    assert not [key for key in nobody if key[0] == "zhibu_scheduler_lease_holder"]
    assert lease.acquire("host-a:4242:0f1e2d3c", utcnow(), settings.scheduler.lease_seconds)
    held = scrape(live_server.url)
    assert value(held, "zhibu_scheduler_lease_held") == 1
    assert value(held, "zhibu_scheduler_lease_holder", holder="host-a:4242:0f1e2d3c") == 1
    assert value(held, "zhibu_database_up") == 1
    lease.release("host-a:4242:0f1e2d3c")
    expired = utcnow() - timedelta(seconds=settings.scheduler.lease_seconds + 1)
    assert lease.acquire("host-b:77:aa", expired, settings.scheduler.lease_seconds)
    assert value(scrape(live_server.url), "zhibu_scheduler_lease_held") == 0  # it lapsed


# ---- who may scrape -------------------------------------------------------------------------


def test_metrics_are_off_by_default_and_answer_404(db_url):
    server = LiveServer(make_app(db_url)).start()
    try:
        answer = requests.get(server.url + "/metrics", timeout=10)
        assert answer.status_code == 404
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.get(server.url + "/metrics", headers=auth, timeout=10).status_code == 404
    finally:
        server.stop()


def test_without_the_token_a_scraper_gets_401(live_server):
    url = live_server.url + "/metrics"
    for authorization in (None, "Bearer wrong-token-of-the-tests-0000", f"Basic {TOKEN}"):
        headers = {"Authorization": authorization} if authorization else {}
        answer = requests.get(url, headers=headers, timeout=10)
        assert answer.status_code == 401, authorization
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "zhibu_" not in answer.text
    assert value(scrape(live_server.url), "zhibu_database_up") == 1  # the token is let in


@pytest.mark.parametrize(
    ("allowed", "status"),
    [(["127.0.0.1"], 200), (["127.0.0.0/8"], 200), (["10.0.0.0/8", "::1"], 401)],
)
def test_an_allowed_address_scrapes_without_the_token(db_url, allowed, status):
    server = LiveServer(make_app(db_url, metrics={"enabled": True, "allowed_addresses": allowed}))
    server.start()
    try:
        assert requests.get(server.url + "/metrics", timeout=10).status_code == status
    finally:
        server.stop()


def test_start_up_refuses_metrics_open_to_anyone_or_a_short_token(db_url):
    with pytest.raises(ConfigError, match="metrics.token: required when metrics.enabled"):
        make_app(db_url, metrics={"enabled": True})
    with pytest.raises(ConfigError, match="metrics.token: expected at least 16"):
        make_app(db_url, metrics={"enabled": True, "token": "short"})
    with pytest.raises(ConfigError, match="metrics.allowed_addresses.*got 'localhost'"):
        make_app(db_url, metrics={"enabled": True, "allowed_addresses": ["localhost"]})


# ---- /healthz -------------------------------------------------------------------------------


def test_healthz_checks_the_database(live_server):
    answer = requests.get(live_server.url + "/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert answer.headers["Cache-Control"] == "no-store"


def _unreachable(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":  # the database's folder is removed after start-up
        return f"sqlite:///{tmp_path / 'gone' / 'zhibu.db'}"
    return f"postgresql://postgres@127.0.0.1:{free_port()}/test"  # nothing listens there


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_healthz_answers_503_naming_the_database_when_it_is_unreachable(kind, tmp_path):
    url = _unreachable(kind, tmp_path)
    app = create_app({"database": {"url": url}, "metrics": METRICS})
    if kind == "sqlite":
        (tmp_path / "gone").rmdir()
    server = LiveServer(app).start()
    try:
        answer = requests.get(server.url + "/healthz", timeout=10)
        assert answer.status_code == 503
        assert answer.json() == {"status": "failing", "checks": {"database": "cannot connect"}}
        # The scrape still answers: the counters, and a database that is down.
        seen = scrape(server.url)
        assert value(seen, "zhibu_database_up") == 0
        assert ("zhibu_callbacks_total", (("outcome", "answered"),)) in seen
        assert not [key for key in seen if key[0] == "zhibu_outbox_messages"]
    finally:
        server.stop()
        if not db.is_closed():
            db.close()
