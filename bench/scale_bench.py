"""P5: app instances, outbox drains and schedulers together on one PostgreSQL database.

    .venv/bin/python bench/scale_bench.py            # 20,000 callbacks, 5,000 messages
    .venv/bin/python bench/scale_bench.py --quick    # 2,000 callbacks, 500 messages
    .venv/bin/python bench/scale_bench.py --database-url postgresql://USER@HOST:5432/postgres

The URL names an existing database on the server (default: the local server's `postgres`): the
benchmark creates `zhibu_scale_<pid>` beside it, migrates and seeds it, and drops it at the end
(`--keep` keeps it and the logs). The quick run takes about a minute on a quiet 2-core machine,
two on a loaded one (most of it the processes' start-up and the 20 s claim timeout).

What runs, every part a real process on this machine, all on that one database:

- the fake WeChat (bot/fake) in a process of its own (this script's `--serve-fake` mode, which
  writes every message it accepted to a file when stopped); the app's `wechat.api_base_url`
  points at it, with the fake's app id and secret;
- two app instances, as if on two hosts: `gunicorn -c deploy/gunicorn.conf.py -w 4` on two
  ports (gthread, 8 threads a worker, as deployed);
- two schedulers (`flask --app app scheduler`) with a short lease
  (`ZHIBU_SCHEDULER__LEASE_SECONDS`, 10 s by default here), the `outbox_drain` job every second
  (the only job with a sub-minute interval: it is the tick watched), `token_refresh` and
  `meeting_reminders` every minute. Their `outbox_drain` job claims one row at a time and sends
  for at most half a second a tick (batch_size 1, drain_max_seconds 0.5 in their environment):
  it still competes for the rows through the same `FOR UPDATE SKIP LOCKED` claim, but the drain
  processes under test, which take 2-20 s to start on a loaded machine, still find rows to send;
- outbox drains (`flask --app app outbox drain`), two at a time, each logging every row it
  sends (INFO), so the benchmark can tell which process sent how many.

Every time that matters is short for the run, through the environment:
`outbox.claim_timeout_seconds` 20 s (`--claim-timeout`), connect and read timeouts 0.5 s and
1.5 s (the claim must outlast ten sends, core.config), batch_size 50, backoff base 2 s.

What happens, while all of it runs:

1. Callbacks: `--callbacks` signed, AES-encrypted study check-ins ("学习 …", built, signed and
   encrypted as WeChat does by bot/simulate.py, each signed just before it is sent), from
   `--connections` client threads, alternately to the two instances. 5 % are WeChat retries
   (the identical body again, a few places later, so some arrive while the first delivery is
   in flight; half of them to the OTHER instance) and 2 % a second check-in of the same member
   with a new MsgId, sent to the other instance at about the same moment (a race on the
   one-a-day rule). The rest are first deliveries, one per bound member.
2. The scheduler: once the leader (the lease holder, read from the lease table) has run the
   `outbox_drain` tick twice, it is killed with SIGKILL; the standby must take the lease within
   the lease time and run the ticks from then on.
3. Outbox phase 1, no kill, started at the scheduler's kill: all but a fifth of `--messages`
   rows enqueued through `handlers.outbox.enqueue_many` (kind `scale_bench`, one per bound
   member, sent as template messages to the member's openid at the fake); two drains started
   together.
4. Outbox phase 2, a kill: the other fifth (at least 200). The drain to be killed starts first,
   with one sender thread; the second drain starts as soon as the first sends; the first is
   killed with SIGKILL once it has sent three rows, most of its batch still claimed. Those are
   taken over by the others once the claim timeout has passed.

Checks (each printed PASS/FAIL with its figures; exit 1 when any fails):

- every callback answered: HTTP 200 with a reply that decrypts and verifies (WeChat's own
  redeliveries after a 5 s timeout are allowed, and counted), a first delivery answered with a
  check-in or "already checked in", and every retry with the same reply as its first delivery;
- one check-in per member and day: no (member, day) twice in the database, as many check-ins
  as success replies, and one for every member who sent;
- outbox phase 1 exactly once: every row `sent`, claimed once (`attempts` = 1: no two drains
  ever held the same row), and accepted by the fake exactly once, for the row's openid;
- the scheduler: the standby ran nothing before the kill and took the lease within
  lease_seconds + one tick + 2 s of slack (a starved process); the killed one ran nothing
  after; no (job, tick) has two rows; the `outbox_drain` runs change holder exactly once;
- outbox phase 2 after the kill: every row `sent` and accepted by the fake; the killed drain's
  claimed rows were taken over (`attempts` = 2); no row accepted more than twice, duplicates
  only among the taken-over rows and no more than the sends the killed drain had in flight;
- no traceback or worker timeout in the instances' and schedulers' logs.

About duplicates, decided here and not hidden: outbox delivery is at least once
(handlers/outbox). A drain killed after WeChat accepted a message and before it committed
`sent` leaves the row claimed; the drain that takes it over sends it again, and WeChat has no
idempotency key for these messages. The drain killed here sends with one thread
(`outbox.concurrency` = 1), so at most one message is ever in that window: phase 2 allows at
most one duplicate and prints how many there were (0 or 1, by where the kill lands). Phase 1,
without a kill, must be exactly once. Nothing else may make a duplicate: the fake answers in
milliseconds, far inside the read timeout (a send whose answer times out is sent again, and
would show up here as a duplicate, and fail).

Figures: callbacks/s (both instances together, first request to last answer), p50/p99/max
latency as the client threads saw it (signing and their own GIL waits included), the drains'
messages/s in phase 1 (first to last `sent_at`, and from the drains' start with their start-up),
the handoff time, and where the machine's CPU went during the callbacks (the instances, the
client, everything else: on a shared machine the figures move with the neighbours). A Markdown
summary for the README closes the output. See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.callback_bench import (  # noqa: E402
    CHECKIN_REPLY,
    REPEAT_REPLY,
    TWO_A_DAY,
    children,
    cpu_model,
    cpu_ticks,
    free_port,
    machine_busy,
    prepare_database,
    source_version,
)
from bench.jobs_bench import pg_create, pg_drop  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FAKE_APPID = "wxdemoappid000001"  # the fake's defaults (bot/fake): the app fetches tokens as it
FAKE_SECRET = "demo-secret"  # noqa: S105 - the local fake's public demo credential
TEMPLATE_ID = "scale-bench-template"
KIND = "scale_bench"  # the outbox kind of the bench's messages
RETRY_SHARE = 0.05  # WeChat retries of the same MsgId
DOUBLE_SHARE = 0.02  # a second check-in of the same member (new MsgId) at the same moment
WECHAT_TIMEOUT = 5.0  # WeChat waits this long, then delivers the identical body again
WECHAT_REDELIVERIES = 3
TICK_SECONDS = 1  # scheduler.outbox_drain_seconds for the run: the watched tick
KILL_AFTER_SENT = 3  # the phase-2 drain is killed once it has sent this many rows
KILLED_CONCURRENCY = 1  # its sender threads: the sends that can be in flight at the kill
HANDOFF_SLACK = 2.0  # seconds a starved process may add to the standby's takeover
SENT_LOG = ") sent to "  # in handlers.outbox.drainer's INFO line for each row sent
STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress on stdout, stamped with the seconds since the start."""
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


CONTENT = "学习 第{n}次学习心得：今天读了党章第一章，很有收获。"
SECOND_CONTENT = "学习 同一天再打一次卡（第{n}次）"


# ---- processes ----------------------------------------------------------------------------


class Proc:
    """A child process of the benchmark, its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self.fh = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.fh, stderr=subprocess.STDOUT
        )
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is released or committed."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, SIGKILL when it hangs; return the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if not self.fh.closed:
            self.fh.close()
        return self.proc.returncode

    def cpu_ticks(self) -> int:
        """CPU ticks of the process and its children (gunicorn workers), while alive."""
        return cpu_ticks(self.pid) + sum(cpu_ticks(k) for k in children(self.pid))


def stop_all(procs: list[Proc]) -> None:
    """SIGTERM to every process, then wait for each (their graceful stops overlap)."""
    for proc in procs:
        if proc.alive():
            proc.proc.terminate()
    for proc in procs:
        proc.stop()


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "app", *args]


class Instance:
    """One app instance ("one host"): gunicorn with deploy/gunicorn.conf.py, -w 4."""

    def __init__(self, name: str, env: dict[str, str], tmp: Path, workers: int) -> None:
        self.name = name
        self.env = env
        self.tmp = tmp
        self.workers = workers
        self.spawns = 0
        self.proc = self.spawn()

    def spawn(self) -> Proc:
        self.port = free_port()
        self.spawns += 1
        cmd = [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "app:create_app()",
        ]
        log = self.tmp / f"instance-{self.name}-{self.spawns}.log"
        return Proc(f"instance {self.name}", cmd, self.env, log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        """Wait for /healthz and every worker; start again on another port after a lost bind."""
        for _ in range(3):
            if self.healthy():
                return
            self.proc.stop()
            if "Address already in use" not in self.proc.text():
                break
            self.proc = self.spawn()
        raise SystemExit(f"instance {self.name} did not start:\n{self.proc.text()[-3000:]}")

    def healthy(self, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                return False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok and len(children(self.proc.pid)) >= self.workers:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def cpu_ticks(self) -> int:
        return self.proc.cpu_ticks()

    def stop(self) -> int | None:
        return self.proc.stop()


class FakeProcess:
    """The fake WeChat in its own process; what it accepted is read when it stops."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.dump = tmp / "fake-records.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--serve-fake", str(self.dump)]
        self.log = tmp / "fake.log"
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=open(self.log, "wb"),  # noqa: SIM115
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http://"):
            raise SystemExit(f"the fake WeChat did not start: {line!r}\n{self.log.read_text()}")
        self.base_url = line

    def stop(self) -> dict[str, Any]:
        """Stop it and return its records: {"records": [{api, target, text}], "calls": {...}}."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        if not self.dump.exists():
            return {"records": [], "calls": {}, "error": self.log.read_text()[-2000:]}
        return json.loads(self.dump.read_text(encoding="utf-8"))


def serve_fake(dump: Path) -> int:
    """The `--serve-fake` mode: run the fake until SIGTERM, then write what it accepted."""
    from bot.fake import FakeWeChat

    logging.basicConfig(level=logging.WARNING)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fake = FakeWeChat(appid=FAKE_APPID, secret=FAKE_SECRET, token_quota=100_000).start()
    print(fake.base_url, flush=True)
    while not stop.wait(0.5):
        pass
    fake.stop()
    records = []
    for message in fake.messages():
        data = message["body"].get("data") or {}
        text = (data.get("keyword1") or {}).get("value", "")
        records.append({"api": message["api"], "target": message["target"], "text": text})
    dump.write_text(
        json.dumps({"records": records, "calls": dict(fake.calls)}, ensure_ascii=False),
        encoding="utf-8",
    )
    return 0


# ---- callbacks ----------------------------------------------------------------------------


@dataclass
class Call:
    """One callback delivery to one instance, and what came back."""

    kind: str  # "first", "retry" (the identical body of `of` again) or "double"
    instance: int
    openid: str
    xml: str = ""
    of: Call | None = None
    signed: tuple[dict[str, str], bytes] | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    status: int = 0
    body: str = ""
    reply: str | None = None
    reply_error: str = ""
    latency: float = 0.0
    attempts: int = 0
    timeouts: int = 0
    error: str = ""


def plan_calls(driver: Any, openids: list[str], total: int, rng: random.Random) -> list[Call]:
    """First deliveries, retries and second check-ins, in the order the threads take them."""
    n_retry = round(total * RETRY_SHARE)
    n_double = round(total * DOUBLE_SHARE)
    n_first = total - n_retry - n_double
    firsts = []
    keyed: list[tuple[float, Call]] = []
    for i in range(n_first):
        xml = driver.text_xml(openids[i], CONTENT.format(n=i), msg_id=driver.next_msg_id())
        call = Call("first", i % 2, openids[i], xml)
        firsts.append(call)
        keyed.append((float(i), call))
    for i in rng.sample(range(n_first), n_retry):
        first = firsts[i]
        other = int(rng.random() < 0.5)  # half the retries go to the other instance
        # a few places later: some while the first is in flight, most after its answer
        keyed.append(
            (
                i + rng.uniform(0.5, 48.0),
                Call("retry", first.instance ^ other, first.openid, of=first),
            )
        )
    for i in rng.sample(range(n_first), n_double):
        first = firsts[i]
        xml = driver.text_xml(
            first.openid, SECOND_CONTENT.format(n=i), msg_id=driver.next_msg_id()
        )
        keyed.append(
            (i + rng.uniform(-2.0, 2.0), Call("double", first.instance ^ 1, first.openid, xml))
        )
    keyed.sort(key=lambda kv: kv[0])
    return [call for _, call in keyed]


@dataclass
class Load:
    calls: list[Call]
    started: float = 0.0
    finished: float = 0.0
    thread: threading.Thread | None = None
    before: Snapshot | None = None
    after: Snapshot | None = None

    @property
    def seconds(self) -> float:
        return self.finished - self.started


def post_once(
    conns: dict[int, http.client.HTTPConnection],
    ports: list[int],
    call: Call,
    path: str,
    body: bytes,
) -> tuple[int, str]:
    conn = conns.get(call.instance)
    if conn is None:
        conn = conns[call.instance] = http.client.HTTPConnection(
            "127.0.0.1", ports[call.instance], timeout=WECHAT_TIMEOUT
        )
    try:
        conn.request("POST", path, body, {"Content-Type": "text/xml"})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        conn.close()
        del conns[call.instance]
        raise


def deliver(
    conns: dict[int, http.client.HTTPConnection], ports: list[int], call: Call, driver: Any
) -> None:
    """Post one callback as WeChat does: on a timeout or 5xx, the identical body again."""
    if call.of is not None:
        call.of.ready.wait(120)
        assert call.of.signed is not None, "the first delivery was never signed"
        params, body = call.of.signed
    else:
        params, body = driver.wrap(call.xml)
        call.signed = (params, body)
        call.ready.set()
    path = "/wechat?" + urlencode(params)
    while call.attempts <= WECHAT_REDELIVERIES:
        call.attempts += 1
        began = time.perf_counter()
        try:
            call.status, call.body = post_once(conns, ports, call, path, body)
        except TimeoutError:
            call.timeouts += 1
            call.status, call.error = 0, "timeout"
            continue
        except (OSError, http.client.HTTPException) as exc:
            call.status, call.error = 0, f"{type(exc).__name__}: {exc}"
            continue
        call.latency = time.perf_counter() - began
        if call.status < 500:
            return


def start_load(
    calls: list[Call],
    ports: list[int],
    threads: int,
    driver: Any,
    snap: Callable[[], Snapshot],
) -> Load:
    """Send every call from `threads` threads, each taking the next call in order."""
    load = Load(calls)
    counter = itertools.count()  # next() is atomic under the GIL

    def worker() -> None:
        conns: dict[int, http.client.HTTPConnection] = {}
        while (i := next(counter)) < len(calls):
            deliver(conns, ports, calls[i], driver)
        for conn in conns.values():
            conn.close()

    def run() -> None:
        load.before = snap()
        load.started = time.monotonic()
        pool = [threading.Thread(target=worker, name=f"client-{n}") for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        load.finished = time.monotonic()
        load.after = snap()

    load.thread = threading.Thread(target=run, name="load", daemon=True)
    load.thread.start()
    return load


def read_replies(calls: list[Call], driver: Any) -> None:
    """Decrypt and verify every answer (after the load, so it costs the load nothing)."""
    for call in calls:
        if call.status != 200:
            continue
        try:
            call.reply = driver.read_reply(call.body)
        except AssertionError as exc:
            call.reply_error = str(exc)[:200]


# ---- checks -------------------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    figures: str
    problems: list[str] = field(default_factory=list)


def check_callbacks(calls: list[Call]) -> Check:
    problems: list[str] = []
    unanswered = [c for c in calls if c.status != 200 or c.reply is None or c.reply_error]
    for c in unanswered[:5]:
        problems.append(
            f"{c.kind} to instance {'AB'[c.instance]} ({c.openid}): status {c.status}, "
            f"{c.reply_error or c.error or repr(c.body[:120])}"
        )
    wrong = [
        c
        for c in calls
        if c.kind != "retry"
        and c.reply is not None
        and not c.reply.startswith((CHECKIN_REPLY, REPEAT_REPLY))
    ]
    for c in wrong[:5]:
        problems.append(f"{c.kind} ({c.openid}) answered {c.reply!r}")
    retries = [c for c in calls if c.of is not None]
    differ = [c for c in retries if c.of is not None and c.reply != c.of.reply]
    for c in differ[:5]:
        assert c.of is not None
        problems.append(f"retry of {c.openid}: {c.reply!r} against the first {c.of.reply!r}")
    crossed = sum(1 for c in retries if c.of is not None and c.instance != c.of.instance)
    redelivered = sum(1 for c in calls if c.attempts > 1)
    figures = (
        f"{len(calls) - len(unanswered)}/{len(calls)} answered 200 with a valid encrypted reply "
        f"({redelivered} after WeChat's redelivery, {sum(c.timeouts for c in calls)} timeouts); "
        f"{len(retries) - len(differ)}/{len(retries)} retries got the first delivery's reply "
        f"({crossed} of them sent to the other instance)"
    )
    ok = not unanswered and not wrong and not differ
    return Check("every callback answered; a retry gets the first reply", ok, figures, problems)


def check_checkins(calls: list[Call], app: Any) -> Check:
    from models.base import db

    members = {c.openid for c in calls}
    successes = sum(
        1 for c in calls if c.kind != "retry" and (c.reply or "").startswith(CHECKIN_REPLY)
    )
    with app.app_context(), db.connection_context():
        param = db.obj.param
        base = (
            "FROM study_checkin WHERE member_id IN (SELECT member_id FROM wechat_binding "
            f"WHERE openid LIKE {param})"
        )
        checkins = db.execute_sql(f"SELECT count(*) {base}", ["bench-%"]).fetchone()[0]
        distinct = db.execute_sql(
            f"SELECT count(DISTINCT member_id) {base}", ["bench-%"]
        ).fetchone()[0]
        two_a_day = db.execute_sql(TWO_A_DAY).fetchone()[0]
    problems = []
    if two_a_day:
        problems.append(f"{two_a_day} (member, day) pairs have two check-ins")
    if checkins != successes:
        problems.append(f"{checkins} check-ins in the database, {successes} success replies")
    if distinct != len(members):
        problems.append(f"{distinct} members have a check-in, {len(members)} sent one")
    doubles = sum(1 for c in calls if c.kind == "double")
    figures = (
        f"{checkins} check-ins for {len(members)} members ({doubles} of them sent a second "
        f"check-in to the other instance at once); (member, day) twice: {two_a_day}"
    )
    return Check("no member has two check-ins for a day", not problems, figures, problems)


@dataclass
class OutboxPhase:
    label: str
    periods: list[str]
    drains: list[Proc] = field(default_factory=list)
    started: float = 0.0  # monotonic time the drains were started
    all_sent: float = 0.0  # monotonic time every row was sent (0: never)
    killed_at: float = 0.0
    killed_sent: int = 0  # rows the killed drain had logged as sent
    sending_at_kill: int = 0
    drain_exits: list[int | None] = field(default_factory=list)
    sent_by: dict[str, int] = field(default_factory=dict)  # rows each drain logged as sent


def outbox_rows(app: Any, periods: list[str]) -> dict[str, dict[str, Any]]:
    """The bench's rows of one phase by period, with their member's openid."""
    from models.base import db
    from models.outbox import OutboxMessage
    from models.wechat import WechatBinding

    out: dict[str, dict[str, Any]] = {}
    with app.app_context(), db.connection_context():
        query = (
            OutboxMessage.select(
                OutboxMessage.period,
                OutboxMessage.status,
                OutboxMessage.attempts,
                OutboxMessage.sent_at,
                OutboxMessage.payload,
                WechatBinding.openid,
            )
            .join(WechatBinding, on=WechatBinding.member == OutboxMessage.target_id)
            .where(OutboxMessage.kind == KIND, OutboxMessage.period.in_(periods))
            .dicts()
        )
        for row in query:
            row["text"] = json.loads(row.pop("payload"))["text"]
            out[row["period"]] = row
    return out


def check_exactly_once(
    phase: OutboxPhase, rows: dict[str, dict[str, Any]], delivered: dict[str, list[str]]
) -> Check:
    problems: list[str] = []
    missing = [p for p in phase.periods if p not in rows]
    not_sent = [r for r in rows.values() if r["status"] != "sent"]
    claimed_twice = [r for r in rows.values() if r["attempts"] != 1]
    counts = Counter(len(delivered.get(r["text"], [])) for r in rows.values())
    wrong_target = [
        r for r in rows.values() if any(t != r["openid"] for t in delivered.get(r["text"], []))
    ]
    if missing:
        problems.append(f"{len(missing)} rows were never written")
    if not_sent:
        problems.append(f"{len(not_sent)} rows not sent: {Counter(r['status'] for r in not_sent)}")
    if claimed_twice:
        problems.append(f"{len(claimed_twice)} rows claimed more than once")
    if set(counts) != {1}:
        problems.append(f"deliveries per row: {dict(sorted(counts.items()))} (want 1 each)")
    if wrong_target:
        problems.append(f"{len(wrong_target)} rows delivered to another openid")
    accepted = sum(k * n for k, n in counts.items())
    figures = (
        f"{len(rows)} rows: {len(rows) - len(not_sent)} sent, claimed once "
        f"{len(rows) - len(claimed_twice)}; the fake accepted {accepted} messages, "
        f"per row {dict(sorted(counts.items()))}"
    )
    ok = not problems and len(rows) == len(phase.periods)
    return Check("outbox phase 1: every message sent exactly once", ok, figures, problems)


def check_after_kill(
    phase: OutboxPhase,
    rows: dict[str, dict[str, Any]],
    delivered: dict[str, list[str]],
    claim_timeout: int,
) -> Check:
    problems: list[str] = []
    if not phase.killed_at:
        problems.append("the drain to kill never sent a row: the kill was not exercised")
    not_sent = [r for r in rows.values() if r["status"] != "sent"]
    taken_over = {p for p, r in rows.items() if r["attempts"] >= 2}
    counts = {p: len(delivered.get(r["text"], [])) for p, r in rows.items()}
    lost = [p for p, n in counts.items() if n == 0]
    dupes = {p for p, n in counts.items() if n > 1}
    if len(rows) != len(phase.periods):
        problems.append(f"{len(phase.periods) - len(rows)} rows were never written")
    if not_sent:
        problems.append(f"{len(not_sent)} rows not sent: {Counter(r['status'] for r in not_sent)}")
    if lost:
        problems.append(f"{len(lost)} rows never reached the fake")
    if phase.killed_at and not taken_over:
        problems.append(
            "no claimed row of the killed drain was taken over: it died between batches"
        )
    if any(counts[p] > 2 for p in dupes):
        problems.append("a row was accepted more than twice")
    if dupes - taken_over:
        problems.append(f"{len(dupes - taken_over)} duplicates among rows never taken over")
    if len(dupes) > KILLED_CONCURRENCY:
        problems.append(
            f"{len(dupes)} duplicates, more than the {KILLED_CONCURRENCY} send(s) "
            "the killed drain could have in flight"
        )
    recovery = phase.all_sent - phase.killed_at if phase.all_sent and phase.killed_at else 0.0
    figures = (
        f"{len(rows)} rows, killed drain had sent {phase.killed_sent}; rows claimed at the kill "
        f"{phase.sending_at_kill}, taken over after the {claim_timeout} s claim timeout "
        f"{len(taken_over)}; all sent {recovery:.1f} s after the kill; "
        f"lost {len(lost)}; duplicates {len(dupes)} (at most {KILLED_CONCURRENCY}: the send in "
        "flight at the kill)"
    )
    return Check(
        "outbox phase 2: a drain killed mid-batch loses nothing", not problems, figures, problems
    )


# ---- the scheduler ------------------------------------------------------------------------


@dataclass
class SchedulerKill:
    leader: str = ""
    standby_pid: int = 0
    killed_at: datetime | None = None
    killed_mono: float = 0.0
    new_holder: str = ""
    handoff_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def runs_of(app: Any, job_id: str | None = None) -> list[Any]:
    from models.base import db
    from models.jobs import JobRun

    with app.app_context(), db.connection_context():
        query = JobRun.select().order_by(JobRun.started_at)
        if job_id is not None:
            query = query.where(JobRun.job_id == job_id)
        return list(query)


def lease_holder(app: Any) -> str | None:
    from core.clock import utcnow
    from models.base import db
    from scheduler.lease import current_holder

    with app.app_context(), db.connection_context():
        return current_holder(utcnow())


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def pid_of(holder: str) -> int:
    return int(holder.rsplit(":", 2)[1])  # lease.holder_id(): host:pid:random


def kill_leader(app: Any, schedulers: list[Proc], lease_seconds: int) -> SchedulerKill:
    """Kill the lease holder (SIGKILL) once it has run two ticks."""
    from core.clock import utcnow

    result = SchedulerKill()

    def leader_ran_twice() -> bool:
        holder = lease_holder(app)
        runs = runs_of(app, "outbox_drain")
        return holder is not None and sum(r.holder == holder for r in runs) >= 2

    if not wait_for(leader_ran_twice, 60 + lease_seconds):
        result.problems.append("no scheduler took the lease and ran two ticks within a minute")
        return result
    result.leader = lease_holder(app) or ""
    victim = next((s for s in schedulers if s.pid == pid_of(result.leader)), None)
    if victim is None:
        result.problems.append(f"the lease holder {result.leader} is none of our schedulers")
        return result
    result.standby_pid = next(s.pid for s in schedulers if s is not victim)
    victim.kill()
    result.killed_mono = time.monotonic()
    result.killed_at = utcnow()
    say(f"killed the leading scheduler {victim.name} (pid {victim.pid}) with SIGKILL")
    return result


def await_handoff(app: Any, result: SchedulerKill, lease_seconds: int) -> None:
    """Time the standby's takeover of the lease; wait for two of its ticks."""
    if result.killed_at is None:
        return

    def taken_over() -> bool:
        holder = lease_holder(app)
        return holder is not None and holder != result.leader

    if not wait_for(taken_over, lease_seconds * 3 + 30, step=0.05):
        result.problems.append("the standby never took the lease")
        return
    result.handoff_seconds = time.monotonic() - result.killed_mono
    result.new_holder = lease_holder(app) or ""
    say(f"the standby scheduler took the lease {result.handoff_seconds:.1f} s after the kill")
    ran = wait_for(
        lambda: sum(r.holder == result.new_holder for r in runs_of(app, "outbox_drain")) >= 2,
        30,
    )
    if not ran:
        result.problems.append("the new leader ran fewer than two ticks within 30 s")


def check_scheduler(kill: SchedulerKill, runs: list[Any], lease_seconds: int) -> Check:
    problems = list(kill.problems)
    bound = lease_seconds + TICK_SECONDS + HANDOFF_SLACK
    pairs = Counter((r.job_id, r.tick) for r in runs)
    doubled = [k for k, n in pairs.items() if n > 1]
    if doubled:
        problems.append(f"{len(doubled)} (job, tick) pairs ran twice: {doubled[:3]}")
    holders = Counter(r.holder for r in runs)
    standby = {h for h in holders if h != kill.leader}
    if kill.standby_pid and any(pid_of(h) != kill.standby_pid for h in standby):
        problems.append(f"runs by unknown holders: {standby}")
    if kill.killed_at is not None:
        early = [r for r in runs if r.holder != kill.leader and r.started_at < kill.killed_at]
        late = [r for r in runs if r.holder == kill.leader and r.started_at > kill.killed_at]
        if early:
            problems.append(f"the standby ran {len(early)} jobs before the kill")
        if late:
            problems.append(f"the killed scheduler ran {len(late)} jobs after the kill")
    ticks = [r for r in runs if r.job_id == "outbox_drain"]
    switches = sum(1 for a, b in itertools.pairwise(ticks) if a.holder != b.holder)
    before = sum(r.holder == kill.leader for r in ticks)
    after = sum(r.holder == kill.new_holder for r in ticks) if kill.new_holder else 0
    if switches != 1:
        problems.append(f"the outbox_drain ticks changed holder {switches} times (want once)")
    if kill.handoff_seconds > bound:
        problems.append(f"handoff took {kill.handoff_seconds:.1f} s, over {bound:.0f} s")
    cron = Counter(r.job_id for r in runs if r.job_id != "outbox_drain")
    figures = (
        f"lease {lease_seconds} s: taken over {kill.handoff_seconds:.1f} s after the SIGKILL "
        f"(bound {bound:.0f} s); outbox_drain ticks {before} before, {after} after, holder "
        f"changes {switches}; cron runs {dict(sorted(cron.items()))}; (job, tick) twice: "
        f"{len(doubled)} of {len(runs)} runs"
    )
    ok = not problems and before > 0 and after > 0
    return Check(
        "scheduler: the lease passes on a SIGKILL, no tick runs twice", ok, figures, problems
    )


# ---- the outbox ---------------------------------------------------------------------------


def enqueue(app: Any, label: str, members: list[tuple[int, int]]) -> list[str]:
    """Enqueue one message per member through handlers.outbox.enqueue_many; return the periods."""
    from core.clock import utcnow
    from handlers.outbox import Outgoing, enqueue_many
    from models.base import db

    rows = []
    for n, (member_id, branch_id) in enumerate(members):
        period = f"{label}-{n:05d}"
        payload = {"text": f"压测消息 {period}", "title": "压测"}
        rows.append(Outgoing(KIND, "member", member_id, period, payload, branch_id))
    with app.app_context(), db.connection_context():
        created = enqueue_many(rows, now=utcnow())
    if created != len(rows):
        raise SystemExit(f"enqueue_many created {created} of {len(rows)} rows")
    return [r.period for r in rows]


def count_status(app: Any, periods: list[str]) -> Counter[str]:
    from models.base import db
    from models.outbox import OutboxMessage

    with app.app_context(), db.connection_context():
        query = (
            OutboxMessage.select(OutboxMessage.status)
            .where(OutboxMessage.kind == KIND, OutboxMessage.period.in_(periods))
            .tuples()
        )
        return Counter(status for (status,) in query)


def start_drain(name: str, env: dict[str, str], tmp: Path, **extra: str) -> Proc:
    """`flask --app app outbox drain`, logging each row it sends (INFO)."""
    cmd = flask("outbox", "drain", "--max-seconds", "900")
    return Proc(name, cmd, dict(env, ZHIBU_APP__LOG_LEVEL="INFO", **extra), tmp / f"{name}.log")


def finish_drains(phase: OutboxPhase, app: Any, timeout: float) -> None:
    """Wait for every row of the phase to be sent, then stop the drains still running."""

    def sent() -> bool:
        return count_status(app, phase.periods).get("sent", 0) == len(phase.periods)

    if wait_for(sent, timeout, step=0.1):
        phase.all_sent = time.monotonic()
    # A drain with nothing left ends; one that saw a row claimed by another sleeps until it
    # could take it over. Every row of ours being sent, stopping it interrupts none of ours.
    wait_for(lambda: not any(d.alive() for d in phase.drains), 3.0)
    for drain in phase.drains:
        phase.drain_exits.append(drain.stop(10))
        phase.sent_by[drain.name] = sent_lines(drain)


def sent_lines(drain: Proc) -> int:
    """Rows of the phase a drain logged as sent."""
    return sum(1 for line in drain.text().splitlines() if SENT_LOG in line and KIND in line)


def start_phase_one(
    app: Any,
    env: dict[str, str],
    tmp: Path,
    members: list[tuple[int, int]],
    keep: Callable[[Any], None],
) -> OutboxPhase:
    phase = OutboxPhase("1", enqueue(app, "P1", members))
    phase.started = time.monotonic()
    phase.drains = [start_drain(f"drain-1{c}", env, tmp) for c in "ab"]
    for drain in phase.drains:
        keep(drain)
    say(f"outbox phase 1: {len(members)} messages enqueued; two drains started")
    return phase


def finish_phase_one(phase: OutboxPhase, app: Any) -> None:
    finish_drains(phase, app, 180 + len(phase.periods) / 10)
    if phase.all_sent:
        say(f"outbox phase 1: all sent {phase.all_sent - phase.started:.1f} s after the drains "
            f"were started ({phase.sent_by})")  # fmt: skip
    else:
        say("outbox phase 1: NOT all sent")


def run_phase_two(
    app: Any,
    env: dict[str, str],
    tmp: Path,
    members: list[tuple[int, int]],
    claim_timeout: int,
    keep: Callable[[Any], None],
) -> OutboxPhase:
    """The drain to be killed starts first; the survivor as soon as it sends (start-up takes
    2-20 s on a loaded machine: this way the kill lands mid-batch whichever starts faster)."""
    phase = OutboxPhase("2", enqueue(app, "P2", members))
    phase.started = time.monotonic()
    victim = start_drain(
        "drain-2-killed", env, tmp, ZHIBU_OUTBOX__CONCURRENCY=str(KILLED_CONCURRENCY)
    )
    keep(victim)
    phase.drains = [victim]
    say(f"outbox phase 2: {len(members)} messages enqueued; the drain to kill started")

    def sent(n: int) -> Callable[[], bool]:
        return lambda: victim.text().count(SENT_LOG) >= n or not victim.alive()

    wait_for(sent(1), 180, step=0.01)
    survivor = start_drain("drain-2-survivor", env, tmp)
    keep(survivor)
    phase.drains.append(survivor)
    wait_for(sent(KILL_AFTER_SENT), 60, step=0.005)
    if victim.alive():
        victim.kill()
        phase.killed_at = time.monotonic()
        phase.killed_sent = victim.text().count(SENT_LOG)
        phase.sending_at_kill = count_status(app, phase.periods).get("sending", 0)
        say(
            f"killed that drain with SIGKILL after it sent {phase.killed_sent} rows; "
            f"{phase.sending_at_kill} rows were claimed at that moment; the survivor started"
        )
    finish_drains(phase, app, claim_timeout + 180 + len(members) / 10)
    if phase.all_sent and phase.killed_at:
        say(f"outbox phase 2: all sent {phase.all_sent - phase.killed_at:.1f} s after the kill "
            f"({phase.sent_by})")  # fmt: skip
    return phase


# ---- the run ------------------------------------------------------------------------------


def write_config(tmp: Path, db_url: str, token: str, aes_key: str, fake_url: str) -> Path:
    config = tmp / "config.toml"
    config.write_text(
        "[app]\n"
        f'secret_key = "{secrets.token_hex(16)}"\n'
        'log_level = "WARNING"\n'
        "[database]\n"
        f'url = "{db_url}"\n'
        "[wechat]\n"
        'mode = "safe"\n'
        f'token = "{token}"\nencoding_aes_key = "{aes_key}"\n'
        f'app_id = "{FAKE_APPID}"\napp_secret = "{FAKE_SECRET}"\n'
        f'api_base_url = "{fake_url}"\n'
        "[channels]\n"
        f'template_id = "{TEMPLATE_ID}"\n'
        f'wecom_api_base_url = "{fake_url}"\n',
        encoding="utf-8",
    )
    return config


def run_env(config: Path, args: Any) -> dict[str, str]:
    """Every child's environment: the bench's config, the run's short times, nothing else."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env.update(
        ZHIBU_CONFIG=str(config),
        PYTHONUNBUFFERED="1",
        ZHIBU_SCHEDULER__LEASE_SECONDS=str(args.lease_seconds),
        ZHIBU_SCHEDULER__OUTBOX_DRAIN_SECONDS=str(TICK_SECONDS),
        ZHIBU_SCHEDULER__TOKEN_REFRESH="* * * * *",
        ZHIBU_SCHEDULER__MEETING_REMINDERS="* * * * *",
        ZHIBU_OUTBOX__CLAIM_TIMEOUT_SECONDS=str(args.claim_timeout),
        # the claim must outlast 10 sends (core.config): 10 x (0.5 + 1.5) = 20 s
        ZHIBU_OUTBOX__CONNECT_TIMEOUT_SECONDS=str(args.claim_timeout / 40),
        ZHIBU_OUTBOX__READ_TIMEOUT_SECONDS=str(args.claim_timeout * 3 / 40),
        ZHIBU_OUTBOX__BATCH_SIZE="50",
        ZHIBU_OUTBOX__BACKOFF_BASE_SECONDS="2",
    )
    return env


@dataclass
class Snapshot:
    """CPU figures at one moment: the machine's busy ticks, the instances' ticks, and this
    process's CPU seconds (the client threads, mostly)."""

    at: float
    busy: int
    instances: int
    client: float


def snapshot(instances: list[Instance]) -> Snapshot:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return Snapshot(
        time.monotonic(),
        machine_busy()[0],
        sum(i.cpu_ticks() for i in instances),
        usage.ru_utime + usage.ru_stime,
    )


def bench_members(app: Any) -> dict[str, tuple[int, int]]:
    """openid -> (member id, branch id) of every member the bench seeded."""
    from models.base import db
    from models.org import Member
    from models.wechat import WechatBinding

    with app.app_context(), db.connection_context():
        query = (
            WechatBinding.select(WechatBinding.openid, Member.id, Member.branch)
            .join(Member)
            .where(WechatBinding.openid.startswith("bench-"))
            .tuples()
        )
        return {openid: (mid, bid) for openid, mid, bid in query}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_fake:
        return serve_fake(Path(args.serve_fake))
    tmp = Path(tempfile.mkdtemp(prefix="zhibu-scale-"))
    name = f"zhibu_scale_{os.getpid()}"
    say(
        f"P5 on one machine: {os.cpu_count()} cores ({cpu_model()}), load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; zhibu {source_version()}; "
        f"{args.callbacks} callbacks, {args.messages} messages; folder {tmp}"
    )
    try:
        db_url = pg_create(args.database_url, name)
    except Exception as exc:  # noqa: BLE001 - any failure to reach PostgreSQL ends the run here
        print(f"cannot create the database {name} at {args.database_url}: {exc}")
        return 1
    procs: list[Any] = []  # everything started, stopped in reverse order at the end
    status = 1
    try:
        status = run(args, tmp, db_url, procs.append)
    finally:
        for p in reversed(procs):
            p.stop()
        from models.base import db

        if db.obj is not None and not db.is_closed():
            db.close()
        if args.keep:
            print(f"\nkept: the database {db_url} and the logs in {tmp}")
        else:
            pg_drop(args.database_url, name)
            if status == 0:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"\nlogs kept in {tmp}")
    return status


def run(args: Any, tmp: Path, db_url: str, keep: Callable[[Any], None]) -> int:
    token = secrets.token_hex(8)
    aes_key = secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:43]
    fake = FakeProcess(tmp, {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")})
    keep(fake)
    env = run_env(write_config(tmp, db_url, token, aes_key, fake.base_url), args)
    os.environ.clear()
    os.environ.update(env)  # this process reads the same settings as its children

    from app import create_app
    from bot.simulate import CallbackDriver

    app = create_app()
    retries, doubles = round(args.callbacks * RETRY_SHARE), round(args.callbacks * DOUBLE_SHARE)
    n_members = max(args.callbacks - retries - doubles, args.messages) + 10
    openids = prepare_database(app, n_members, args.branches, False)
    members = bench_members(app)
    say(f"database {db_url.rpartition('/')[2]}: migrated, {len(openids)} bound members seeded")

    instances = [Instance(n, env, tmp, args.workers) for n in "AB"]
    # The schedulers' own outbox_drain job (the watched tick) claims one row at a time and
    # sends for at most half a second a tick, so the drain processes under test still find
    # rows to send after their start-up (2-20 s, by the machine's load).
    scheduler_env = dict(env, ZHIBU_OUTBOX__BATCH_SIZE="1", ZHIBU_OUTBOX__DRAIN_MAX_SECONDS="0.5")
    schedulers = [
        Proc(f"scheduler-{n}", flask("scheduler"), scheduler_env, tmp / f"scheduler-{n}.log")
        for n in "ab"
    ]
    for proc in [*instances, *schedulers]:
        keep(proc)
    for inst in instances:
        inst.wait_ready()
    say(
        f"instances A {instances[0].url} and B {instances[1].url} (gunicorn -c "
        f"deploy/gunicorn.conf.py -w {args.workers}), two schedulers, fake WeChat {fake.base_url}"
    )

    driver = CallbackDriver(token=token, aes_key=aes_key, app_id=FAKE_APPID)
    calls = plan_calls(driver, openids, args.callbacks, random.Random(args.seed))
    load = start_load(calls, [i.port for i in instances], args.connections, driver,
                      lambda: snapshot(instances))  # fmt: skip
    say(f"load: {len(calls)} callbacks from {args.connections} client threads")

    # The scheduler's kill, then outbox phase 1 while the lease is vacant, then phase 2.
    kill = kill_leader(app, schedulers, args.lease_seconds)
    targets = [members[o] for o in openids[: args.messages]]
    n_two = max(200, args.messages // 5) if args.messages >= 400 else args.messages // 2
    n_one = args.messages - n_two
    phase_one = start_phase_one(app, env, tmp, targets[:n_one], keep)
    await_handoff(app, kill, args.lease_seconds)
    finish_phase_one(phase_one, app)
    phase_two = run_phase_two(app, env, tmp, targets[n_one:], args.claim_timeout, keep)

    assert load.thread is not None
    load.thread.join(timeout=3600)
    say(f"load: {len(calls)} callbacks answered in {load.seconds:.1f} s")

    # stop every sender (all at once, gracefully) before counting what the fake accepted
    stop_all([*schedulers, *(i.proc for i in instances)])
    delivered: dict[str, list[str]] = {}
    for record in fake.stop()["records"]:
        delivered.setdefault(record["text"], []).append(record["target"])
    read_replies(calls, driver)
    one_rows = outbox_rows(app, phase_one.periods)
    problems = log_problems([i.proc for i in instances] + schedulers)
    checks = [
        check_callbacks(calls),
        check_checkins(calls, app),
        check_exactly_once(phase_one, one_rows, delivered),
        check_scheduler(kill, runs_of(app), args.lease_seconds),
        check_after_kill(
            phase_two, outbox_rows(app, phase_two.periods), delivered, args.claim_timeout
        ),  # fmt: skip
        Check(
            "no tracebacks or worker timeouts in the logs",
            not problems,
            "; ".join(problems) or "none",
            problems,
        ),  # fmt: skip
    ]
    return report(args, calls, load, phase_one, one_rows, kill, phase_two, checks)


def log_problems(procs: list[Proc]) -> list[str]:
    found = []
    for p in procs:
        text = p.text()
        for needle in ("Traceback", "WORKER TIMEOUT"):
            if needle in text:
                found.append(f"{needle} in {p.log}")
    return found


# ---- report -------------------------------------------------------------------------------


def cpu_during(load: Load) -> str:
    """Where the machine's CPU went during the callback load, in cores."""
    a, b = load.before, load.after
    if a is None or b is None or b.at <= a.at:
        return ""
    ticks, seconds = os.sysconf("SC_CLK_TCK"), b.at - a.at
    busy = (b.busy - a.busy) / ticks / seconds
    instances = (b.instances - a.instances) / ticks / seconds
    client = (b.client - a.client) / seconds
    per_call = 1000 * (b.instances - a.instances) / ticks / max(1, len(load.calls))
    rest = max(0.0, busy - instances - client)
    return (
        f"during the callback load the machine was busy {busy:.2f} of {os.cpu_count()} cores: "
        f"the instances {instances:.2f} ({per_call:.1f} ms of CPU per callback), the client "
        f"threads (this process) {client:.2f}, everything else {rest:.2f} "
        "(PostgreSQL, schedulers, drains, the fake and other work on the machine)"
    )


def report(
    args: Any,
    calls: list[Call],
    load: Load,
    one: OutboxPhase,
    one_rows: dict[str, dict[str, Any]],
    kill: SchedulerKill,
    two: OutboxPhase,
    checks: list[Check],
) -> int:
    print("\n== checks")
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.figures}")
        for problem in check.problems:
            print(f"        - {problem}")
    answered = [c.latency for c in calls if c.status == 200]
    rate = len(calls) / load.seconds if load.seconds else 0.0
    p50, p99 = percentile(answered, 0.50) * 1000, percentile(answered, 0.99) * 1000
    worst = max(answered, default=0.0) * 1000
    per_instance = Counter("AB"[c.instance] for c in calls)
    sent_at = [r["sent_at"] for r in one_rows.values() if r["sent_at"] is not None]
    span = (max(sent_at) - min(sent_at)).total_seconds() if len(sent_at) > 1 else 0.0
    wall = one.all_sent - one.started if one.all_sent else 0.0
    recovery = two.all_sent - two.killed_at if two.all_sent and two.killed_at else 0.0
    ok = all(c.ok for c in checks)
    print("\n== Markdown (README, Performance)\n")
    print(
        f"P5, `bench/scale_bench.py{' --quick' if args.quick else ''}` at {source_version()}, "
        f"{cpu_model()}, load average {os.getloadavg()[0]:.1f} at the end: two instances "
        f"(gunicorn `-c deploy/gunicorn.conf.py -w {args.workers}`, 8 threads a worker), two "
        f"schedulers, two drains at a time and the fake WeChat on one PostgreSQL; "
        f"{cpu_during(load)}.\n"
    )
    print("| | measured |")
    print("|---|---|")
    print(
        f"| callbacks | {len(calls):,} ({per_instance['A']:,} to A, {per_instance['B']:,} to "
        f"B; {sum(c.kind == 'retry' for c in calls):,} retries of a MsgId, "
        f"{sum(c.kind == 'double' for c in calls):,} second check-ins), {args.connections} "
        "client threads |"
    )
    print(f"| callbacks/s, both instances | **{rate:.0f}** ({load.seconds:.1f} s) |")
    print(f"| latency p50 / p99 / max | {p50:.0f} / **{p99:.0f}** / {worst:.0f} ms |")
    print(
        f"| outbox phase 1, drains' messages/s | **{len(sent_at) / span if span else 0:.0f}** "
        f"first to last sent ({len(sent_at):,} in {span:.1f} s); "
        f"{len(sent_at) / wall if wall else 0:.0f} from the drains' start ({wall:.1f} s, "
        f"start-up included); sent by {one.sent_by}, the rest by the scheduler's job |"
    )
    print(
        f"| scheduler handoff after SIGKILL | **{kill.handoff_seconds:.1f} s** "
        f"(lease {args.lease_seconds} s) |"
    )
    print(
        f"| outbox phase 2, drain killed mid-batch | {len(two.periods):,} messages, all sent "
        f"{recovery:.1f} s after the kill (claim timeout {args.claim_timeout} s) |"
    )
    for check in checks:
        print(f"| {check.name} | {'PASS' if check.ok else '**FAIL**'}: {check.figures} |")
    print(f"\n{'All checks passed.' if ok else 'FAILED: see the checks above.'}")
    return 0 if ok else 1


def parse_args(argv: list[str] | None) -> Any:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="2,000 callbacks and 500 messages (under 2 minutes on 2 cores)",
    )
    p.add_argument("--callbacks", type=int, default=0, help="default 20,000 (--quick 2,000)")
    p.add_argument("--messages", type=int, default=0, help="default 5,000 (--quick 500)")
    p.add_argument("--connections", type=int, default=16, help="client threads")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers per instance")
    p.add_argument("--branches", type=int, default=50)
    p.add_argument("--lease-seconds", type=int, default=10, help="scheduler.lease_seconds")
    p.add_argument(
        "--claim-timeout",
        type=int,
        default=20,
        help="outbox.claim_timeout_seconds (connect and read timeouts follow it)",
    )
    p.add_argument(
        "--database-url",
        default=ADMIN_URL,
        help="an administrative PostgreSQL database; the run's own is made beside it",
    )
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--keep", action="store_true", help="keep the database and the logs")
    p.add_argument("--serve-fake", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.callbacks = args.callbacks or (2000 if args.quick else 20000)
    args.messages = args.messages or (500 if args.quick else 5000)
    if not args.serve_fake and not args.database_url.startswith("postgresql://"):
        p.error("--database-url must be a postgresql:// URL: P5 is about PostgreSQL")
    if args.messages < 20:
        p.error("--messages must be at least 20")
    return args


if __name__ == "__main__":
    sys.exit(main())
