"""Real processes for tests: free ports, a gunicorn server, and HTTP client processes.

Client processes run this module:
`python -m tests.support.procs post JOBS.json OUT.json THREADS`.
A job file holds "lanes": each lane is a list of requests one thread sends in order, so a
member's messages keep their order while lanes run concurrently.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.clockshim import CLOCK_ENV

ROOT = Path(__file__).resolve().parents[2]
TEST_CONFIG = ROOT / "tests" / "config.test.toml"
BIN = Path(sys.executable).parent

# One request: (query params, body text). One answer: (status, body text, seconds).
Job = tuple[dict[str, str], str]
Answer = tuple[int, str, float]


def free_port() -> int:
    """Return a port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a child: no developer ZHIBU_ overrides, the test config, the test's
    clock (for `python`), `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env["ZHIBU_CONFIG"] = str(TEST_CONFIG)
    env[CLOCK_ENV] = datetime.now(UTC).isoformat()
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def python(*args: str) -> list[str]:
    """The argv running `python ARGS` (ARGS start with -m MODULE) on the test's clock."""
    return [sys.executable, "-m", "tests.clockshim", *args]


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """Terminate a process we started and wait for it; kill its own group if it hangs."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group this process leads (new session)
        except ProcessLookupError:
            pass
        proc.wait(5)


class Gunicorn:
    """`gunicorn -k gthread` serving the app on a free port, logging to a file."""

    def __init__(
        self,
        db_url: str,
        log_path: Path,
        *,
        app: str = "app:create_app()",
        workers: int = 4,
        threads: int = 4,
        env: dict[str, str] | None = None,
        config: Path | None = None,
    ) -> None:
        self.db_url = db_url
        self.log_path = Path(log_path)
        self.app = app
        self.workers = workers
        self.threads = threads
        self.extra_env = env or {}
        self.config = config  # a gunicorn.conf.py; the flags above win over it
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Gunicorn:
        """Start and wait until /healthz answers; retry on another port if the bind lost a race."""
        for _ in range(3):
            self.port = free_port()
            cmd = python(
                "-m", "gunicorn",
                "-w", str(self.workers),
                "-k", "gthread",
                "--threads", str(self.threads),
                "-b", f"127.0.0.1:{self.port}",
                "--graceful-timeout", "5",
                # Longer than a busy machine's pause between one client's requests: with
                # gunicorn's 2 s default, a request racing the idle close is reset.
                "--keep-alive", "30",
                *(["-c", str(self.config)] if self.config else []),
                self.app,
            )  # fmt: skip
            env = clean_env(ZHIBU_DATABASE__URL=self.db_url, **self.extra_env)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            if self._wait_healthy(timeout):
                return self
            stop_process(self.proc)
            if "Address already in use" not in self.log():
                break
        raise RuntimeError(f"gunicorn did not start; log:\n{self.log()[-3000:]}")

    def _wait_healthy(self, timeout: float) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
        return False

    def timestamp(self) -> int:
        """The Unix time the server's own clock shows (its Date header), for signed callbacks:
        the app checks their timestamps against that clock, whatever the test process's says."""
        return server_timestamp(self.url + "/healthz")

    def log(self) -> str:
        """Everything gunicorn and the app wrote so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


def server_timestamp(url: str, **request_kw: Any) -> int:
    """The Unix time in the Date header of the answer to GET `url` (one-second precision)."""
    from email.utils import parsedate_to_datetime

    response = requests.get(url, timeout=10, **request_kw)
    return int(parsedate_to_datetime(response.headers["Date"]).timestamp())


# ---- posting --------------------------------------------------------------------------------


def post_lanes(url: str, lanes: Sequence[Sequence[Job]], threads: int) -> list[list[Answer]]:
    """Post every lane (its jobs in order) with `threads` threads; answers keep lane order."""
    local = threading.local()
    start = threading.Barrier(min(threads, len(lanes)) or 1)
    started = threading.local()

    def run(lane: Sequence[Job]) -> list[Answer]:
        if not getattr(started, "done", False):
            started.done = True
            try:
                start.wait(10)  # let every thread begin together: maximum overlap
            except threading.BrokenBarrierError:
                pass
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        out: list[Answer] = []
        for params, body in lane:
            began = time.perf_counter()
            try:
                r = session.post(
                    url, params=params, data=body.encode("utf-8"), timeout=15,
                    headers={"Content-Type": "text/xml"},
                )  # fmt: skip
                out.append((r.status_code, r.text, time.perf_counter() - began))
            except requests.RequestException as exc:
                out.append((0, f"{type(exc).__name__}: {exc}", time.perf_counter() - began))
        return out

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, lanes))


def post_from_processes(
    url: str, lanes: Sequence[Sequence[Job]], *, processes: int, threads: int, workdir: Path
) -> list[list[Answer]]:
    """Split the lanes over `processes` client processes of `threads` threads each."""
    parts = [list(range(i, len(lanes), processes)) for i in range(processes)]
    procs = []
    for n, indexes in enumerate(parts):
        jobs = workdir / f"jobs-{n}.json"
        out = workdir / f"out-{n}.json"
        jobs.write_text(json.dumps({"url": url, "lanes": [lanes[i] for i in indexes]}))
        cmd = python("-m", "tests.support.procs", "post", str(jobs), str(out), str(threads))
        procs.append((indexes, out, subprocess.Popen(cmd, cwd=ROOT, env=clean_env())))
    answers: list[list[Answer]] = [[] for _ in lanes]
    try:
        for indexes, out, proc in procs:
            assert proc.wait(300) == 0, f"client process {proc.pid} failed"
            for i, lane_answers in zip(indexes, json.loads(out.read_text()), strict=True):
                answers[i] = [tuple(a) for a in lane_answers]  # type: ignore[misc]
    finally:
        for _, _, proc in procs:
            stop_process(proc)
    return answers


# ---- a probe app for D1 ---------------------------------------------------------------------


def probe_app() -> Any:
    """The real app plus routes that report the settings of the request's connection (D1) and
    the client address and scheme the app sees (behind a proxy, deploy/)."""
    from flask import request

    from api.common import client_address
    from app import create_app
    from models.base import db, is_sqlite

    application = create_app()

    @application.get("/_probe/db")
    def probe() -> dict[str, Any]:
        report: dict[str, Any] = {"pid": os.getpid(), "thread": threading.get_ident()}
        if is_sqlite():
            for pragma in ("journal_mode", "foreign_keys", "busy_timeout"):
                report[pragma] = db.execute_sql(f"PRAGMA {pragma}").fetchone()[0]
        else:
            report["lock_timeout"] = db.execute_sql("SHOW lock_timeout").fetchone()[0]
        return report

    @application.get("/_probe/client")
    def client() -> dict[str, Any]:
        return {"address": client_address(), "scheme": request.scheme}

    return application


def main(argv: Sequence[str]) -> int:
    if len(argv) != 4 or argv[0] != "post":
        usage = "usage: python -m tests.support.procs post JOBS.json OUT.json THREADS"
        print(usage, file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[1]).read_text())
    lanes = [[(dict(p), b) for p, b in lane] for lane in spec["lanes"]]
    answers = post_lanes(spec["url"], lanes, int(argv[3]))
    Path(argv[2]).write_text(json.dumps(answers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
