"""P1 benchmark: the study check-in callback under gunicorn against two baselines.

    .venv/bin/python bench/callback_bench.py [--duration 20] [--connections 16] [--workers 2]

Three servers run in one invocation, one after the other (each with the machine to itself),
under the same gunicorn settings, and are driven by wrk with the same kind of request: a
signed, AES-encrypted safe-mode text message "学习 <心得>", as WeChat sends it
(bot/simulate.py):

- bare: bench/bare_app.py, wechatpy decrypt and reply, no database;
- minimal: bench/minimal_app.py, a minimal correct handler: verify, decrypt, one SQLite WAL
  transaction through sqlite3 with the same reads and writes as the app, encrypted reply
  (SQLite only: it runs on a copy of the app's seeded database);
- app: the app, on a fresh, migrated database with one bound member per request, so every
  request does the full work.

Afterwards each database is counted (one check-in per request answered, one per member and
day), and on the minimal handler and the app a MsgId delivered before the load is delivered
again after it: the stored reply must come back unchanged, and a second check-in of that member
with a new MsgId must not add a row.

Prints requests/s, the ratios app/bare, app/minimal and minimal/bare, p50/p99 latency, errors,
server CPU per request, and a Markdown table for the README. Exit status: 0 all good; 1 errors
or a failed verification (nothing measured can be trusted); 2 the run was clean but missed a P1
target (app/bare >= 0.6, p99 < 100 ms, server CPU <= 1.0 ms per check-in). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "callbacks.lua"
TARGET_RATIO = 0.6  # QUALITY.md P1: app/bare
TARGET_P99_MS = 100.0
TARGET_CPU_MS = 1.0  # QUALITY.md P1b: server CPU per check-in
CHECKIN_REPLY = "学习打卡成功"  # how every reply stored by the app must start

sys.path.insert(0, str(ROOT))


# ---- tools ------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """Return the wrk binary, installing Debian's package when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(
            "wrk is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y wrk; "
            "macOS: brew install wrk) and run the benchmark again."
        )
    print("== wrk missing: apt-get install -y wrk", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        sys.exit("apt-get install wrk finished but no wrk on PATH")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime, stime) of one process, in clock ticks ((0, 0) if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0, 0
    return int(fields[11]), int(fields[12])


def children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                kids.append(int(entry.name))
    return kids


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def source_version() -> str:
    """The commit benchmarked, with "-dirty" for uncommitted changes."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


# ---- servers ----------------------------------------------------------------------------------


class Server:
    """A gunicorn master with its workers, its log in a file."""

    def __init__(
        self, name: str, app_spec: str, chdir: Path, env: dict[str, str], args: Any, log: Path
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.workers = args.workers
        cmd = [
            str(Path(sys.executable).with_name("gunicorn")),
            "--chdir",
            str(chdir),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(args.workers),
            "--worker-class",
            args.worker_class,
            "--backlog",
            "2048",
            "--graceful-timeout",
            "30",
            "--worker-tmp-dir",
            "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(),
        ]
        if args.worker_class == "gthread":
            cmd += ["--threads", str(args.threads)]
        cmd.append(app_spec)
        self.cmd = cmd
        self.fh = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.fh, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name}: gunicorn exited; log:\n{self.log.read_text()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    # every worker must be up before we measure
                    if len(children(self.proc.pid)) >= self.workers:
                        time.sleep(0.5)
                        return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.name}: not ready after {timeout}s; log:\n{self.log.read_text()}")

    def worker_cpu(self) -> tuple[int, int]:
        """(user, system) ticks of the master and its workers."""
        ticks = [cpu_ticks(p) for p in [*children(self.proc.pid), self.proc.pid]]
        return sum(u for u, _ in ticks), sum(s for _, s in ticks)

    def stop(self) -> None:
        """Graceful stop: workers finish the requests in flight before they exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.fh.close()

    def log_problems(self) -> dict[str, int]:
        text = self.log.read_text(errors="replace")
        return {
            "tracebacks": text.count("Traceback"),
            "errors": len(re.findall(r"\b(ERROR|CRITICAL)\b", text)),
            "warnings": len(re.findall(r"\bWARNING\b", text)),
            "locked": text.count("database is locked"),
            "worker_timeouts": text.count("WORKER TIMEOUT"),
        }


# ---- load -------------------------------------------------------------------------------------


@dataclass
class Phase:
    """One wrk run's figures (latencies in microseconds)."""

    data: dict[str, Any]
    wrk_cpu_s: float
    server_cpu_s: float
    machine_util: float  # 0..1 of all cores
    server_sys_s: float = 0.0  # the part of server_cpu_s spent in the kernel
    other_cpu_s: float = 0.0  # busy CPU not used by wrk or the server: noise from elsewhere

    @property
    def rps(self) -> float:
        return self.data["requests"] / (self.data["duration_us"] / 1e6)

    @property
    def socket_errors(self) -> int:
        d = self.data
        return d["err_connect"] + d["err_read"] + d["err_write"] + d["err_timeout"]

    @property
    def bad(self) -> int:
        """Answers that are not a 200 with an encrypted XML body, plus socket errors."""
        return self.data["non200"] + self.data["badbody"] + self.socket_errors

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / max(1, self.data["requests"])


@dataclass
class Side:
    name: str
    warmup: Phase | None = None
    run: Phase | None = None
    probe: Probe | None = None  # the pre-flight check-in, delivered again after the load
    checks: list[str] = field(default_factory=list)  # what the self-check found, in words
    profiled: Phase | None = None
    profile: str = ""
    log: dict[str, int] = field(default_factory=dict)
    db: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def write_requests(driver: Any, path: Path, openids: list[str], content: str) -> None:
    """Sign and encrypt one text message per openid, now, into wrk's request file."""
    timestamp = str(int(time.time()))
    with open(path, "w", encoding="utf-8") as out:
        for n, openid in enumerate(openids):
            xml = driver.text_xml(openid, content.format(n=n))
            nonce = "".join(secrets.choice(string.digits) for _ in range(10))
            params, body = driver.wrap(xml, timestamp=timestamp, nonce=nonce)
            line_body = body.decode()
            if "\n" in line_body or "\t" in line_body:
                raise ValueError("request body would break the line format")
            out.write(f"/wechat?{urlencode(params)}\t{line_body}\n")


def run_wrk(wrk: str, server: Server, requests_file: Path, seconds: float, args: Any) -> Phase:
    cmd = [
        wrk,
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={args.timeout}s",
        "-s",
        str(LUA),
        server.url,
        "--",
        str(requests_file),
        str(args.wrk_threads),
    ]
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = server.worker_cpu()
    busy0, total0 = machine_busy()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    busy1, total1 = machine_busy()
    server_after = server.worker_cpu()
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(
            f"wrk failed (exit {proc.returncode}):\n{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
        )
    ticks = os.sysconf("SC_CLK_TCK")
    wrk_cpu = (after_children.ru_utime - before_children.ru_utime) + (
        after_children.ru_stime - before_children.ru_stime
    )
    server_sys = (server_after[1] - server_before[1]) / ticks
    server_cpu = (sum(server_after) - sum(server_before)) / ticks
    return Phase(
        data=json.loads(line[len("BENCHJSON ") :]),
        wrk_cpu_s=wrk_cpu,
        server_cpu_s=server_cpu,
        server_sys_s=server_sys,
        machine_util=(busy1 - busy0) / max(1, total1 - total0),
        other_cpu_s=max(0.0, (busy1 - busy0) / ticks - wrk_cpu - server_cpu),
    )


def split_pool(openids: list[str], args: Any) -> tuple[list[str], list[str], list[str]]:
    """Disjoint slices for warm-up, the measured run and the profiled run, by their lengths."""
    total = args.warmup + args.duration + args.profile
    n_warm = int(len(openids) * args.warmup / total)
    n_prof = int(len(openids) * args.profile / total)
    end = len(openids) - n_prof
    return openids[:n_warm], openids[n_warm:end], openids[end:]


def drive(
    wrk: str,
    server: Server,
    driver: Any,
    openids: list[str],
    side: Side,
    args: Any,
    tmp: Path,
    content: str,
) -> None:
    """Warm up, then measure; each phase gets its own requests, signed just before it."""
    warm, run, _ = split_pool(openids, args)
    warm_file, run_file = tmp / f"{side.name}-warmup.txt", tmp / f"{side.name}-run.txt"
    if args.warmup > 0:
        write_requests(driver, warm_file, warm, content)
        side.warmup = run_wrk(wrk, server, warm_file, args.warmup, args)
        # sign no more than three times what the warm-up rate needs (a pool that runs out
        # is detected and fails the run)
        run = run[: int(side.warmup.rps * args.duration * 3) + 2000]
    t0 = time.monotonic()
    write_requests(driver, run_file, run, content)
    print(f"   signed {len(run)} requests in {time.monotonic() - t0:.1f}s", flush=True)
    side.run = run_wrk(wrk, server, run_file, args.duration, args)


def smoke(driver: Any, openid: str, expect: str) -> None:
    """One real delivery through HTTP; the reply must decrypt, verify and say the right thing."""
    delivery = driver.deliver(driver.text_xml(openid, "学习 压测前的检查"), redeliveries=0)
    if delivery.status != 200 or not (delivery.reply or "").startswith(expect):
        raise SystemExit(
            f"pre-flight check failed at {driver.url}: status {delivery.status}, "
            f"reply {delivery.reply!r}, body {delivery.body[:300]!r}"
        )


@dataclass
class Probe:
    """A check-in delivered before the load, to be delivered again after it."""

    openid: str
    msg_id: str
    create_time: int
    reply: str

    @property
    def xml_args(self) -> dict[str, Any]:
        return {"msg_id": self.msg_id, "create_time": self.create_time}


SMOKE_TEXT = "学习 压测前的检查"
REPEAT_REPLY = "您今天已经打过卡了"  # how the reply to a second check-in the same day starts


def smoke_checkin(driver: Any, openid: str) -> Probe:
    """The pre-flight check-in: a real delivery that must succeed; kept for the retry check."""
    probe = Probe(openid, driver.next_msg_id(), int(time.time()), "")
    delivery = driver.deliver(
        driver.text_xml(openid, SMOKE_TEXT, **probe.xml_args), redeliveries=0
    )
    if delivery.status != 200 or not (delivery.reply or "").startswith(CHECKIN_REPLY):
        raise SystemExit(
            f"pre-flight check failed at {driver.url}: status {delivery.status}, "
            f"reply {delivery.reply!r}, body {delivery.body[:300]!r}"
        )
    probe.reply = delivery.reply or ""
    return probe


def retry_check(driver: Any, probe: Probe, side: Side) -> None:
    """After the load: WeChat's retry of the pre-flight MsgId gets the reply stored for it;
    the same member checking in again (a new MsgId) is told so and adds no check-in."""
    again = driver.deliver(
        driver.text_xml(probe.openid, SMOKE_TEXT, **probe.xml_args), redeliveries=0
    )
    if again.status != 200 or again.reply != probe.reply:
        side.problems.append(
            f"retried MsgId {probe.msg_id}: status {again.status}, reply {again.reply!r} "
            f"instead of the stored {probe.reply!r}"
        )
    repeat = driver.deliver(driver.text_xml(probe.openid, "学习 再打一次卡"), redeliveries=0)
    if repeat.status != 200 or not (repeat.reply or "").startswith(REPEAT_REPLY):
        side.problems.append(
            f"second check-in the same day: status {repeat.status}, reply {repeat.reply!r}"
        )
    side.checks.append(
        f"retried MsgId answered with its stored reply: {again.reply == probe.reply}; "
        f"a second check-in the same day answered {(repeat.reply or '')[:12]!r}…"
    )


# ---- profile ----------------------------------------------------------------------------------

ZHIBU_DIRS = ("bot", "handlers", "core", "models", "app.py")
# (category, test on one frame "function (file)") — the first match from the leaf upwards wins.
CATEGORIES: list[tuple[str, Any]] = [
    ("BEGIN IMMEDIATE: waiting for SQLite's write lock", lambda f: ".begin (peewee" in f),
    ("queued at the write gate (models/base.py)", lambda f: "hold (" in f and "base.py" in f),
    ("COMMIT", lambda f: ".commit (peewee" in f),
    ("SQL statements inside SQLite", lambda f: "_execute_cursor (peewee" in f),
    (
        "connection open: connect + PRAGMAs (per request)",
        lambda f: "_connect (peewee" in f or "_set_pragmas (peewee" in f,
    ),
    ("connection close (per request)", lambda f: "_close (peewee" in f),
    ("peewee in Python: building SQL, rows, models", lambda f: "(peewee" in f),
    (
        "wechatpy / cryptography / XML",
        lambda f: any(m in f for m in ("(wechatpy", "(cryptography", "(xmltodict", "(xml")),
    ),
    ("zhibu code itself", lambda f: any(f"({d}" in f for d in ZHIBU_DIRS)),
    ("Flask / Werkzeug", lambda f: "(flask" in f or "(werkzeug" in f),
    ("gunicorn, incl. idle time waiting for a request", lambda f: "(gunicorn" in f),
]


def summarize_profile(raw_files: list[Path], out: Path) -> str:
    """Summarize py-spy raw stacks: wall-time shares by category and by zhibu function."""
    self_cat: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for raw in raw_files:
        for line in raw.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            if frames and frames[0].startswith("process "):
                frames = frames[1:]
            if frames and frames[0].startswith("thread "):
                frames = frames[1:]
            total += count
            cat = "other"
            for frame in reversed(frames):
                cat = next((name for name, test in CATEGORIES if test(frame)), "")
                if cat:
                    break
            cat = cat or "other"
            self_cat[cat] = self_cat.get(cat, 0) + count
            for frame in set(frames):
                if any(f"({d}" in frame for d in ZHIBU_DIRS) or any(
                    f"{m} (peewee" in frame for m in (".begin", ".commit", "_close", "_connect")
                ):
                    inclusive[frame] = inclusive.get(frame, 0) + count
    if not total:
        return "py-spy recorded no samples"
    lines = [f"py-spy, all app workers, wall time (idle included), {total} samples", ""]
    lines.append("where the time goes (innermost recognised frame):")
    for cat, n in sorted(self_cat.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {100 * n / total:5.1f}%  {cat}")
    lines.append("")
    lines.append("inclusive time of zhibu functions and SQLite transaction/connection calls:")
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:25]:
        lines.append(f"  {100 * n / total:5.1f}%  {frame}")
    text = "\n".join(lines)
    out.write_text(text + "\n")
    return text


def find_py_spy(path: str) -> str:
    found = path if path and os.path.exists(path) else shutil.which(path or "py-spy")
    if not found:
        sys.exit(
            "--profile needs py-spy: install it (pip install py-spy, e.g. into a separate "
            "folder: pip install --target /tmp/pyspy py-spy, then --py-spy /tmp/pyspy/bin/py-spy)"
        )
    return found


def profile_phase(
    wrk: str, py_spy: str, server: Server, requests_file: Path, args: Any, tmp: Path
) -> tuple[Phase, str]:
    """One more wrk phase with py-spy attached to every worker (its figures are not reported)."""
    spies = []
    raws = []
    for pid in children(server.proc.pid):
        raw = tmp / f"pyspy-{pid}.txt"
        raws.append(raw)
        spies.append(
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(round(args.profile)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--idle",
                    "--nolineno",
                    "--nonblocking",
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    time.sleep(0.5)
    phase = run_wrk(wrk, server, requests_file, args.profile, args)
    for spy in spies:
        _, err = spy.communicate(timeout=60)
        if spy.returncode:
            print(f"   py-spy failed: {err.decode(errors='replace')[-300:]}")
    return phase, summarize_profile([r for r in raws if r.exists()], tmp / "profile.txt")


# ---- the app's database -----------------------------------------------------------------------


def prepare_database(app: Any, members: int, branches: int, reset: bool) -> list[str]:
    """Migrate, seed the demo data and `members` bound members; return their openids."""
    from handlers.demo import COMMITTEE, seed
    from models.base import db, is_sqlite, write_tx
    from models.migrate import upgrade
    from models.org import Branch, Committee, Member
    from models.registry import ALL_MODELS
    from models.wechat import WechatBinding

    settings = app.config["ZHIBU"]
    with app.app_context(), db.connection_context():
        upgrade(db.obj)
        if Member.select().exists():
            if not reset:
                raise SystemExit(
                    "the database already has members; pass --reset-database to empty it "
                    "(every zhibu table is truncated)"
                )
            if is_sqlite():
                with write_tx():
                    for model in reversed(ALL_MODELS):
                        model.delete().execute()
            else:
                tables = ", ".join(f'"{m._meta.table_name}"' for m in ALL_MODELS)
                db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        seed(settings)  # committee, demo branches, today's topic (committee-wide), demo binding
        committee = Committee.get(Committee.name == COMMITTEE)
        with write_tx():
            branch_ids = [
                Branch.create(committee=committee, name=f"压测第{b + 1}党支部").id
                for b in range(branches)
            ]
        openids = [f"bench-{n:07d}" for n in range(members)]
        chunk = 500
        for start in range(0, members, chunk):
            rows = range(start, min(members, start + chunk))
            with write_tx():
                Member.insert_many(
                    [
                        {
                            "name": f"压测党员{n}",
                            "phone": f"170{n:08d}",
                            "branch": branch_ids[n % branches],
                            "status": "full",
                        }
                        for n in rows
                    ]
                ).execute()
                ids = dict(
                    Member.select(Member.phone, Member.id)
                    .where(Member.phone.in_([f"170{n:08d}" for n in rows]))
                    .tuples()
                )
                WechatBinding.insert_many(
                    [{"openid": openids[n], "member": ids[f"170{n:08d}"]} for n in rows]
                ).execute()
    return openids


COUNTS = {  # the load's rows: members "bench-…" except the pre-flight member
    "checkins": "SELECT count(*) FROM study_checkin WHERE member_id IN (SELECT member_id "
    "FROM wechat_binding WHERE openid LIKE ? AND openid <> ?)",
    "distinct_members": "SELECT count(DISTINCT member_id) FROM study_checkin WHERE member_id IN "
    "(SELECT member_id FROM wechat_binding WHERE openid LIKE ? AND openid <> ?)",
    "inbound": "SELECT count(*) FROM inbound_message WHERE openid LIKE ? AND openid <> ?",
    "not_checkin_reply": "SELECT count(*) FROM inbound_message WHERE openid LIKE ? "
    "AND openid <> ? AND (reply IS NULL OR reply NOT LIKE ?)",
}
TWO_A_DAY = (  # members with more than one check-in on one day (any topic), all members
    "SELECT count(*) FROM (SELECT member_id, day FROM study_checkin "
    "GROUP BY member_id, day HAVING count(*) > 1) t"
)
PROBE_COUNTS = {
    "probe_checkins": "SELECT count(*) FROM study_checkin WHERE member_id = "
    "(SELECT member_id FROM wechat_binding WHERE openid = ?)",
    "probe_inbound": "SELECT count(*) FROM inbound_message WHERE openid = ?",
}
STORED_REPLY = "SELECT reply FROM inbound_message WHERE dedupe_key = ?"


def count_rows(query: Any, probe: Probe | None) -> dict[str, Any]:
    """Count what the load and the self-check wrote; query(sql with ?, params) -> first row."""
    smoke = probe.openid if probe else ""
    counts: dict[str, Any] = {}
    for name, sql in COUNTS.items():
        params = ["bench-%", smoke] + ([CHECKIN_REPLY + "%"] if "NOT LIKE" in sql else [])
        counts[name] = query(sql, params)[0]
    counts["two_a_day"] = query(TWO_A_DAY, [])[0]
    if probe:
        for name, sql in PROBE_COUNTS.items():
            counts[name] = query(sql, [probe.openid])[0]
        row = query(STORED_REPLY, [f"msg:{probe.msg_id}"])
        counts["probe_reply_stored"] = bool(row) and row[0] == probe.reply
    return counts


def count_database(app: Any, probe: Probe | None) -> dict[str, Any]:
    from models.base import db

    def query(sql: str, params: list[Any]) -> Any:
        return db.execute_sql(sql.replace("?", db.obj.param), params).fetchone()

    with app.app_context(), db.connection_context():
        return count_rows(query, probe)


def count_sqlite(path: Path, probe: Probe | None) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        return count_rows(lambda sql, params: conn.execute(sql, params).fetchone(), probe)
    finally:
        conn.close()


def copy_sqlite(source: str, target: Path) -> None:
    """A consistent copy of the app's seeded database for the minimal handler."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = wal")
    finally:
        src.close()
        dst.close()


# ---- report -----------------------------------------------------------------------------------


def ms(us: float) -> str:
    return f"{us / 1000:.1f} ms"


def phase_errors(p: Phase) -> str:
    d = p.data
    return (
        f"non-2xx {d['non200']}, bad body {d['badbody']}, socket errors "
        f"{p.socket_errors} (connect {d['err_connect']}, read {d['err_read']}, "
        f"write {d['err_write']}, timeout {d['err_timeout']})"
    )


def report(bare: Side, minimal: Side, app: Side, args: Any, env_note: str) -> int:
    b, a = bare.run, app.run
    assert b is not None and a is not None
    m = minimal.run  # None on PostgreSQL
    sides = [side for side in (bare, minimal, app) if side.run is not None]
    ratio = a.rps / b.rps if b.rps else 0.0
    p99_ms = a.data["p99"] / 1000
    cpu_ms = a.cpu_ms_per_request
    errors = [f"{side.name}: {p}" for side in sides for p in side.problems]
    for side in sides:
        for label, phase in (
            ("warm-up", side.warmup),
            ("run", side.run),
            ("profiled run", side.profiled),
        ):
            if phase is not None and phase.bad:
                errors.append(f"{side.name} {label}: {phase_errors(phase)}")

    print("\n== results")
    for side in sides:
        p = side.run
        assert p is not None
        print(
            f"{side.name:>7}: {p.rps:8.1f} req/s  p50 {ms(p.data['p50'])}  "
            f"p99 {ms(p.data['p99'])}  max {ms(p.data['lat_max'])}  ({p.data['requests']} "
            f"requests in {p.data['duration_us'] / 1e6:.1f}s)"
        )
        print(f"         errors: {phase_errors(p)}")
        print(
            f"         server CPU {p.cpu_ms_per_request:.2f} ms/request "
            f"({100 * p.server_sys_s / max(p.server_cpu_s, 1e-9):.0f}% in the kernel), wrk CPU "
            f"{p.wrk_cpu_s:.1f}s, machine busy {100 * p.machine_util:.0f}% of "
            f"{os.cpu_count()} cores, other processes "
            f"{100 * p.other_cpu_s / (p.data['duration_us'] / 1e6):.0f}% of a core"
        )
        if p.data["wrapped"]:
            print(f"         request pool wrapped {p.data['wrapped']} times (repeats)")
        if side.db:
            print(f"         database after the run: {side.db}")
        for check in side.checks:
            print(f"         self-check: {check}")
    print(f"ratio app/bare: {ratio:.2f} (target >= {TARGET_RATIO})")
    if m is not None:
        print(f"ratio app/minimal: {a.rps / m.rps:.2f}; minimal/bare: {m.rps / b.rps:.2f}")
    print(f"app p99: {p99_ms:.1f} ms (target < {TARGET_P99_MS:.0f} ms)")
    print(f"app server CPU: {cpu_ms:.2f} ms per check-in (target <= {TARGET_CPU_MS})")
    if app.log:
        print(f"app log: {app.log}")
        if app.log["locked"]:
            print(
                f"warning: {app.log['locked']} write attempts waited out the lock timeout "
                "('database is locked') and were retried: the member waited over "
                "database.lock_timeout for an answer"
            )
    if app.profile:
        print("\n== profile of the app under the same load (extra phase, not measured)\n")
        print(app.profile)

    for side in sides:
        p = side.run
        assert p is not None
        other = p.other_cpu_s / (p.data["duration_us"] / 1e6)
        if other > 0.25:
            print(
                f"warning: other processes used {100 * other:.0f}% of a core during the "
                f"{side.name} run: the machine was not quiet, figures are noisy; run again"
            )
    ok_ratio = ratio >= TARGET_RATIO
    ok_p99 = p99_ms < TARGET_P99_MS
    ok_cpu = cpu_ms <= TARGET_CPU_MS
    mark = {True: "yes", False: "**no**"}
    bad = sum(side.run.bad for side in sides if side.run is not None)

    def row(label: str, value: Any, target: str = "", met: str = "") -> str:
        cells = [value(side) if side.run is not None else "" for side in (bare, minimal, app)]
        if m is None:
            cells = [cells[0], "—", cells[2]]
        return f"| {label} | {' | '.join(cells)} | {target} | {met} |"

    print("\n== Markdown (README, Performance)\n")
    print(
        f"P1, safe-mode study check-in callback, wrk {args.connections} connections "
        f"× {args.duration:g} s after {args.warmup:g} s warm-up, gunicorn "
        f"`{gunicorn_label(args)}` for all three. {env_note}\n"
    )
    print("| | bare wechatpy (no DB) | minimal handler (sqlite3) | zhibu app | target | met |")
    print("|---|---:|---:|---:|---|---|")
    print(row("requests/s", lambda x: f"{x.run.rps:.0f}"))
    print(f"| ratio app/bare | | | **{ratio:.2f}** | ≥ {TARGET_RATIO} | {mark[ok_ratio]} |")
    if m is not None:
        print(f"| ratio app/minimal | | | **{a.rps / m.rps:.2f}** | | |")
        print(f"| ratio minimal/bare | | {m.rps / b.rps:.2f} | | | |")
    print(row("p50 latency", lambda x: ms(x.run.data["p50"])))
    print(
        row(
            "p99 latency",
            lambda x: ms(x.run.data["p99"]),
            f"app < {TARGET_P99_MS:.0f} ms",
            mark[ok_p99],
        )
    )
    print(row("max latency", lambda x: ms(x.run.data["lat_max"])))
    print(
        row(
            "server CPU / request",
            lambda x: f"{x.run.cpu_ms_per_request:.2f} ms",
            f"app ≤ {TARGET_CPU_MS} ms",
            mark[ok_cpu],
        )
    )
    print(row("errors (non-2xx + socket)", lambda x: str(x.run.bad), "0", mark[bad == 0]))
    checked = [side for side in (minimal, app) if side.db]
    if checked:
        print(
            row(
                "check-ins written / answered",
                lambda x: f"{x.db['checkins']} / {x.db['answered']}" if x.db else "",
                "one per request",
                mark[not any(side.problems for side in checked)],
            )
        )
        print(
            row(
                "retried MsgId → stored reply; 2nd check-in same day → no row",
                lambda x: mark[not x.problems] if x.probe else "",
            )
        )
    if app.log:
        locked = app.log["locked"]
        print(f"| 'database is locked' retries | | | {locked} | 0 (D2) | {mark[not locked]} |")

    if errors:
        print("\nFAILED: the run had errors; its figures are not a measurement:")
        for e in errors:
            print("  - " + e)
        return 1
    if not (ok_ratio and ok_p99 and ok_cpu):
        print("\nP1 target missed (clean run): see the profile notes in bench/README.md")
        return 2
    print("\nP1 met.")
    return 0


def gunicorn_label(args: Any) -> str:
    label = f"-w {args.workers} -k {args.worker_class}"
    if args.worker_class == "gthread":
        label += f" --threads {args.threads}"
    return label


# ---- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> Any:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=20, help="measured seconds per side")
    p.add_argument("--warmup", type=float, default=3, help="warm-up seconds per side (0: none)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (both sides)")
    p.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--timeout", type=float, default=5, help="wrk timeout: WeChat's deadline")
    p.add_argument(
        "--database-url",
        default="",
        help="postgresql://... to bench on PostgreSQL (default: a temporary SQLite file)",
    )
    p.add_argument("--reset-database", action="store_true", help="empty a non-empty database")
    p.add_argument(
        "--members",
        type=int,
        default=0,
        help="bound members = distinct check-ins available (default: sized from the bare run)",
    )
    p.add_argument("--branches", type=int, default=50)
    p.add_argument(
        "--app-spec",
        default="app:create_app()",
        help="gunicorn app spec of the app side, to bench a variant (default: app:create_app())",
    )
    p.add_argument(
        "--profile",
        type=float,
        default=0,
        metavar="SECONDS",
        help="after the measured run, drive the app this long more with py-spy on its workers "
        "and print where the time goes (the measured figures are taken without it)",
    )
    p.add_argument("--py-spy", default="", help="path to py-spy (default: on PATH)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, db)")
    args = p.parse_args(argv)
    if max(args.duration, args.warmup, args.profile) > 240:
        p.error(
            "duration, warmup and profile must each stay under 240 s: requests are signed "
            "right before each phase and the server accepts timestamps up to 300 s old"
        )
    if args.connections < args.wrk_threads:
        p.error("--connections must be at least --wrk-threads")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk()
    py_spy = find_py_spy(args.py_spy) if args.profile > 0 else ""
    tmp = Path(tempfile.mkdtemp(prefix="zhibu-bench-"))
    token = secrets.token_hex(8)
    aes_key = secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:43]
    app_id = "wxbench" + secrets.token_hex(5)
    db_url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    config = tmp / "config.toml"
    config.write_text(
        "[app]\n"
        f'secret_key = "{secrets.token_hex(16)}"\n'
        'log_level = "WARNING"\n'
        "[database]\n"
        f'url = "{db_url}"\n'
        "[wechat]\n"
        'mode = "safe"\n'
        f'token = "{token}"\nencoding_aes_key = "{aes_key}"\napp_id = "{app_id}"\n'
    )
    # The servers and this process read only the bench's settings, never a developer's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env.update(
        ZHIBU_CONFIG=str(config), BARE_TOKEN=token, BARE_AES_KEY=aes_key, BARE_APP_ID=app_id
    )
    os.environ.clear()
    os.environ.update(env)

    from app import create_app
    from bot.simulate import CallbackDriver
    from models.base import db

    def driver(url: str) -> CallbackDriver:
        return CallbackDriver(token=token, aes_key=aes_key, app_id=app_id, url=url + "/wechat")

    content = "学习 第{n}次学习心得：今天读了党章第一章，很有收获。"
    env_note = (
        f"One machine, {os.cpu_count()} cores ({cpu_model()}) shared by wrk "
        f"(-t{args.wrk_threads}) and the servers (one at a time); "
        f"Python {platform.python_version()}, "
        f"{'PostgreSQL' if args.database_url else 'SQLite ' + sqlite3.sqlite_version + ' (WAL)'}"
        f"; zhibu {source_version()}."
    )
    print(f"== {env_note}\n== temporary folder {tmp}", flush=True)
    bare, minimal, app_side = Side("bare"), Side("minimal"), Side("app")
    servers: list[Server] = []
    try:
        # -- baseline: bare wechatpy, no database. Its pool may repeat: it keeps no state.
        server = Server("bare", "bare_app:create_app()", HERE, env, args, tmp / "bare.log")
        servers.append(server)
        server.wait_ready()
        print(f"== bare: gunicorn {gunicorn_label(args)} on {server.url}", flush=True)
        d = driver(server.url)
        smoke(d, "bench-smoke", "学习打卡成功")
        bare_pool = [f"bare-{n:07d}" for n in range(10000)]
        drive(wrk, server, d, bare_pool, bare, args, tmp, content)
        server.stop()
        bare.log = server.log_problems()
        if bare.log["tracebacks"] or bare.log["worker_timeouts"]:
            bare.problems.append(f"server log shows {bare.log}")
        assert bare.run is not None
        print(f"   bare: {bare.run.rps:.0f} req/s, p99 {ms(bare.run.data['p99'])}", flush=True)

        # -- the app's database: one bound member per request, so every request is a real
        # check-in. No handler can be faster than the bare one: size the pool from its rate.
        seconds = args.duration + args.warmup + args.profile
        bound = max(bare.run.rps, 50.0) * seconds * 1.3 + 2000
        members = args.members or int(bound)
        t0 = time.monotonic()
        app = create_app()
        openids = prepare_database(app, members + 1, args.branches, args.reset_database)
        db.close()
        print(
            f"== app: seeded {members + 1} bound members in {time.monotonic() - t0:.1f}s "
            f"({db_url.split('@')[-1]})",
            flush=True,
        )
        pool = openids[:-1]

        # -- second baseline: the minimal correct handler, on a copy of the seeded database.
        if not args.database_url:
            minimal_db = tmp / "minimal.db"
            copy_sqlite(db_url[len("sqlite:///") :], minimal_db)
            minimal_env = dict(env, MINIMAL_DB=str(minimal_db))
            server = Server(
                "minimal", "minimal_app:create_app()", HERE, minimal_env, args, tmp / "minimal.log"
            )
            servers.append(server)
            server.wait_ready()
            print(f"== minimal: gunicorn {gunicorn_label(args)} on {server.url}", flush=True)
            d = driver(server.url)
            minimal.probe = smoke_checkin(d, openids[-1])
            drive(wrk, server, d, pool, minimal, args, tmp, content)
            retry_check(d, minimal.probe, minimal)
            server.stop()
            minimal.log = server.log_problems()
            if minimal.log["tracebacks"] or minimal.log["worker_timeouts"]:
                minimal.problems.append(f"server log shows {minimal.log} (see {server.log})")
            verify(minimal, count_sqlite(minimal_db, minimal.probe))
            assert minimal.run is not None
            print(
                f"   minimal: {minimal.run.rps:.0f} req/s, p99 {ms(minimal.run.data['p99'])}",
                flush=True,
            )

        # -- the app, under the same settings.
        server = Server("app", args.app_spec, ROOT, env, args, tmp / "app.log")
        servers.append(server)
        server.wait_ready()
        print(f"== app: gunicorn {gunicorn_label(args)} on {server.url}", flush=True)
        d = driver(server.url)
        app_side.probe = smoke_checkin(d, openids[-1])
        drive(wrk, server, d, pool, app_side, args, tmp, content)
        retry_check(d, app_side.probe, app_side)
        if args.profile > 0:
            assert app_side.run is not None
            prof = split_pool(pool, args)[2][: int(app_side.run.rps * args.profile * 3) + 2000]
            prof_file = tmp / "app-profile.txt"
            write_requests(d, prof_file, prof, content)
            print(f"== app: profiling {args.profile:g}s with py-spy", flush=True)
            app_side.profiled, app_side.profile = profile_phase(
                wrk, py_spy, server, prof_file, args, tmp
            )
        server.stop()  # graceful: requests in flight are finished and committed
        app_side.log = server.log_problems()
        if app_side.log["tracebacks"] or app_side.log["errors"] or app_side.log["worker_timeouts"]:
            app_side.problems.append(f"server log shows {app_side.log} (see {server.log})")
        verify(app_side, count_database(app, app_side.probe))
    finally:
        for s in servers:
            s.stop()
        if db.obj is not None and not db.is_closed():
            db.close()
    status = report(bare, minimal, app_side, args, env_note)
    if args.keep or status == 1:
        print(f"\nlogs and database kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return status


def verify(side: Side, counts: dict[str, Any]) -> None:
    """Every answered request wrote exactly one check-in; nothing else was written."""
    phases = [p for p in (side.warmup, side.run, side.profiled) if p is not None]
    answered = sum(p.data["ok"] for p in phases)
    issued = sum(p.data["issued"] for p in phases)
    wrapped = sum(p.data["wrapped"] for p in phases)
    counts["answered"] = answered
    counts["issued_by_wrk"] = issued
    side.db = counts
    if wrapped:
        side.problems.append(
            f"the request pool ran out {wrapped} times: repeats are cheap dedupe hits; "
            "pass a larger --members"
        )
    if counts["checkins"] != counts["inbound"]:
        side.problems.append(
            f"{counts['checkins']} check-ins but {counts['inbound']} inbound messages"
        )
    if counts["distinct_members"] != counts["checkins"] or counts["two_a_day"]:
        side.problems.append("some member has two check-ins on one day")
    if counts["not_checkin_reply"]:
        side.problems.append(
            f"{counts['not_checkin_reply']} stored replies are not a check-in success"
        )
    # Every 200 answered wrote its row; the only extra rows are requests in flight when wrk
    # stopped (the server finished them; wrk no longer counted the answer).
    if not answered <= counts["checkins"] <= issued:
        side.problems.append(
            f"{counts['checkins']} check-ins for {answered} answered and {issued} issued requests"
        )
    if side.probe is not None:
        # pre-flight, its retry (no new row) and a second check-in with a new MsgId
        if (counts["probe_checkins"], counts["probe_inbound"]) != (1, 2):
            side.problems.append(
                f"the pre-flight member has {counts['probe_checkins']} check-ins and "
                f"{counts['probe_inbound']} inbound rows after a retry and a repeat (want 1, 2)"
            )
        if not counts["probe_reply_stored"]:
            side.problems.append("the pre-flight MsgId's stored reply is not the one answered")
        side.checks.append(
            f"one check-in per member and day: {not counts['two_a_day']}; the pre-flight "
            f"member: {counts['probe_checkins']} check-in, {counts['probe_inbound']} inbound rows"
        )


if __name__ == "__main__":
    sys.exit(main())
