"""Seeing it run with real processes: gunicorn with deploy/gunicorn.conf.py and two workers
plus a scheduler share PROMETHEUS_MULTIPROC_DIR, and whichever worker answers a scrape adds up
the counters of them all; the app's log lines in the JSON format."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector

from deploy.run_local import GUNICORN_CONF
from models.base import db
from models.jobs import JobRun
from tests.support.procs import ROOT, Gunicorn, clean_env, python, stop_process
from tests.test_metrics import TOKEN, scrape, value

pytestmark = pytest.mark.process

ROUTE = {"route": "/api/v1/me", "method": "GET", "status": "401"}
BATCH = 20  # requests sent at once, each on its own connection, so both workers take some


def per_process(folder: Path, name: str, **labels: str) -> dict[int, float]:
    """A counter's value in each process's own file (counter_<pid>.db), before any adding up."""
    found = {}
    for path in folder.glob("counter_*.db"):
        for family in MultiProcessCollector.merge([str(path)], accumulate=False):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels and sample.value:
                    found[int(path.stem.rpartition("_")[2])] = sample.value
    return found


def wait_for(predicate: Any, timeout: float = 120.0) -> bool:
    """Wait until predicate() holds; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_scrape_adds_up_the_counters_of_every_worker_and_the_scheduler(app, db_url, tmp_path):
    folder = tmp_path / "metrics"
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "ZHIBU_METRICS__ENABLED": "true",
        "ZHIBU_METRICS__TOKEN": TOKEN,
        "ZHIBU_SCHEDULER__OUTBOX_DRAIN_SECONDS": "1",
    }
    server = Gunicorn(
        db_url, tmp_path / "gunicorn.log", workers=2, threads=2, config=GUNICORN_CONF, env=env
    ).start()
    scheduler = None
    try:
        sent = 0

        def one(_: int) -> int:
            return requests.get(server.url + "/api/v1/me", timeout=10).status_code

        with ThreadPoolExecutor(BATCH) as pool:
            while len(per_process(folder, "zhibu_api_requests_total", **ROUTE)) < 2:
                assert sent < 50 * BATCH, server.log()[-3000:]
                assert set(pool.map(one, range(BATCH))) == {401}
                sent += BATCH
        counts = per_process(folder, "zhibu_api_requests_total", **ROUTE)
        assert len(counts) == 2 and sum(counts.values()) == sent  # each worker counted some
        for _ in range(6):  # whichever worker answers, the sum of both
            assert value(scrape(server.url), "zhibu_api_requests_total", **ROUTE) == sent

        # The scheduler, given the same directory, adds its job runs to the same scrape.
        scheduler = subprocess.Popen(
            python("-m", "flask", "--app", "app", "scheduler"),
            cwd=ROOT,
            env=clean_env(ZHIBU_DATABASE__URL=db_url, **env),
            stdout=(tmp_path / "scheduler.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        drains = {"job": "outbox_drain", "outcome": "ok"}
        assert wait_for(
            lambda: value(scrape(server.url), "zhibu_job_runs_total", **drains) >= 2
        ), (tmp_path / "scheduler.log").read_text()
        assert list(per_process(folder, "zhibu_job_runs_total", **drains)) == [scheduler.pid]
        with db.connection_context():
            (holder,) = {run.holder for run in JobRun.select()}
        seen = scrape(server.url)
        assert value(seen, "zhibu_scheduler_lease_holder", holder=holder) == 1
        assert value(seen, "zhibu_api_requests_total", **ROUTE) == sent
    finally:
        if scheduler is not None:
            stop_process(scheduler)
        server.stop()
    assert not list(folder.glob(".zhibu-temporary"))  # a directory it was given: kept


def test_gunicorn_makes_and_removes_its_own_metrics_directory_when_none_is_given(
    app, db_url, tmp_path
):
    temp = tmp_path / "tmp"
    temp.mkdir()
    server = Gunicorn(
        db_url,
        tmp_path / "gunicorn.log",
        workers=2,
        threads=2,
        config=GUNICORN_CONF,
        env={"TMPDIR": str(temp), "ZHIBU_METRICS__ENABLED": "true", "ZHIBU_METRICS__TOKEN": TOKEN},
    ).start()
    try:
        (made,) = temp.glob("zhibu-metrics-*")
        for _ in range(10):
            requests.get(server.url + "/api/v1/me", timeout=10)
        assert value(scrape(server.url), "zhibu_api_requests_total", **ROUTE) == 10
        assert list(made.glob("counter_*.db"))
    finally:
        server.stop()
    assert not made.exists()


def test_log_lines_are_json_objects_when_the_format_is_json(app, db_url, tmp_path):
    env = clean_env(
        ZHIBU_DATABASE__URL=db_url, ZHIBU_APP__LOG_FORMAT="json", ZHIBU_WECHAT__MODE="plain"
    )
    done = subprocess.run(
        python("-m", "flask", "--app", "app", "db", "status"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    (warning,) = [line for line in lines if "wechat.mode is 'plain'" in line["message"]]
    assert warning["level"] == "WARNING" and warning["logger"] == "zhibu"
    assert warning["time"].endswith("+08:00")
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
