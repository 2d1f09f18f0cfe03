"""In-process profile of the study check-in callback: deterministic counts per check-in.

    .venv/bin/python bench/checkin_profile.py                 # 2,000 check-ins, counts and CPU
    .venv/bin/python bench/checkin_profile.py -n 1000 --top 25  # + the dearest functions
    PROFILE_SORT=cumulative .venv/bin/python bench/checkin_profile.py --top 60  # by subtree
    .venv/bin/python bench/checkin_profile.py --callgrind -n 100  # + instructions (valgrind)
    .venv/bin/python bench/checkin_profile.py -n 300 --history 400  # members with a past

The numbers that noise on a shared machine cannot move, measured on the app's own stack:
`app:create_app()` on a fresh SQLite file (migrated, `handlers.demo.seed()`, one bound member per
check-in, as bench/callback_bench.py seeds it), driven through Flask's test client with requests
that `bot.simulate.CallbackDriver` signed and encrypted exactly as WeChat does, all built before
the loop. Every request is a new member's first check-in ("学习 <心得>"), so each does the whole
path: verify, decrypt, dedupe, member and topic, check-in, week, dedupe row, encrypted reply.

Printed per check-in:

- SQL statements SQLite ran (its trace callback on every pooled connection), by verb,
  transaction control (BEGIN, SAVEPOINT, RELEASE, COMMIT) included, and the data statements
  alone (what tests/test_checkin_statements.py pins);
- Python function calls (cProfile's count, builtins included), XML parses (expat `Parse`
  calls), message filter checks (`check` methods under bot/, the parts of combined filters
  included) and the handlers whose filter the dispatcher tried;
- CPU (process time) of the loop without the profiler: the median of `--rounds` rounds;
- with `--callgrind`: instructions (valgrind's Ir) per check-in. Two runs of the loop alone
  under `valgrind --tool=callgrind --instr-atstart=no`, with n and 2n check-ins; each switches
  the instrumentation on (`callgrind_control`) just around its loop, and the difference of the
  two totals over n leaves out what the switching costs. About a minute per 100 check-ins.

`--history DAYS` gives every member a check-in on each Monday to Friday of the past DAYS
(the streak then reaches back over weekends and holidays, as a regular member's does).

The test client costs more than gunicorn's request handling, and the same before and after a
change: compare these figures between commits, not with the callback bench's.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

CONTENT = "学习 第{n}次学习心得：今天读了党章第一章，很有收获。"
EXPECT = "学习打卡成功"
CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")
# Generous, so requests built before a slow (valgrind) run are still inside the window; the
# check itself costs the same whatever the window.
WINDOW = 86_400
PAGE_SIZE = 4096  # SQLite's default page size, as the app's databases use
WAL_FRAME_HEADER = 24


def write_config(folder: Path, db_path: Path) -> dict[str, str]:
    """A throw-away config.toml (safe mode, random credentials); return the credentials."""
    creds = {
        "token": secrets.token_hex(8),
        "aes_key": secrets.token_urlsafe(48).replace("-", "a").replace("_", "b")[:43],
        "app_id": "wxprof" + secrets.token_hex(5),
    }
    (folder / "config.toml").write_text(
        "[app]\n"
        f'secret_key = "{secrets.token_hex(16)}"\n'
        'log_level = "WARNING"\n'
        "[database]\n"
        f'url = "sqlite:///{db_path}"\n'
        "[wechat]\n"
        'mode = "safe"\n'
        f"timestamp_window = {WINDOW}\n"
        f'token = "{creds["token"]}"\nencoding_aes_key = "{creds["aes_key"]}"\n'
        f'app_id = "{creds["app_id"]}"\n'
    )
    (folder / "creds.json").write_text(json.dumps(creds))
    return creds


def use_config(folder: Path) -> None:
    """Read only this folder's settings, never a developer's."""
    for key in [k for k in os.environ if k.startswith("ZHIBU_")]:
        del os.environ[key]
    os.environ["ZHIBU_CONFIG"] = str(folder / "config.toml")


def build_requests(creds: dict[str, str], openids: list[str]) -> list[list[Any]]:
    """One signed, encrypted "学习 …" message per openid: [query params, body]."""
    from bot.simulate import CallbackDriver

    driver = CallbackDriver(token=creds["token"], aes_key=creds["aes_key"], app_id=creds["app_id"])
    built = []
    for n, openid in enumerate(openids):
        params, body = driver.wrap(driver.text_xml(openid, CONTENT.format(n=n)))
        built.append([params, body.decode()])
    return built


def prepare(folder: Path, members: int, history: int) -> tuple[Any, list[str]]:
    """Seed the database of ``folder`` with ``members`` bound members, each with a check-in on
    every Monday to Friday of the ``history`` days before today; return the app too."""
    from callback_bench import prepare_database

    from app import create_app
    from models.base import db

    app = create_app()
    openids = prepare_database(app, members, branches=50, reset=False)
    if history:
        with app.app_context(), db.connection_context():
            add_history(app.config["ZHIBU"], history)
    db.close_all()
    return app, openids


def add_history(settings: Any, days: int) -> None:
    """A general check-in for every member on each Monday to Friday of the past ``days``."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from core.clock import local_day, utcnow
    from models.base import write_tx
    from models.org import Member
    from models.study import StudyCheckin

    today = local_day(utcnow(), ZoneInfo(settings.app.timezone))
    past = [today - timedelta(days=k) for k in range(1, days + 1)]
    worked = [d for d in past if d.weekday() < 5]
    ids = [m for (m,) in Member.select(Member.id).tuples()]
    rows = [(m, d, 0) for m in ids for d in worked]
    fields = (StudyCheckin.member, StudyCheckin.day, StudyCheckin.topic_key)
    with write_tx():
        for start in range(0, len(rows), 5000):
            StudyCheckin.insert_many(rows[start : start + 5000], fields=fields).execute()


class Statements:
    """Counts what SQLite runs on every pooled connection (its trace callback), and the pages
    the commits write to the WAL (with automatic checkpoints off while it counts)."""

    def __init__(self) -> None:
        self.verbs: Counter[str] = Counter()
        self.on = False
        self.wal_start = 0

    def trace(self, sql: str) -> None:
        if self.on:
            self.verbs[sql.lstrip().split(None, 1)[0].upper()] += 1

    def install(self, db_path: Path) -> None:
        from models.base import db

        db.close_all()
        database = db.obj
        connect = self.connect = database._connect

        seen: set[int] = set()

        def traced() -> sqlite3.Connection:
            conn = connect()  # the pool's: a pooled connection or a new one
            if id(conn) not in seen:
                seen.add(id(conn))  # pooled connections live until uninstall()
                conn.execute("PRAGMA wal_autocheckpoint = 0")
                conn.set_trace_callback(self.trace)
            return conn

        database._connect = traced
        with sqlite3.connect(db_path) as conn:  # an empty WAL to count from
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.wal = db_path.with_name(db_path.name + "-wal")
        self.wal_start = self.wal.stat().st_size if self.wal.exists() else 0

    def wal_frames(self) -> int:
        """Frames (pages) appended to the WAL since install()."""
        size = self.wal.stat().st_size if self.wal.exists() else 0
        return (size - self.wal_start) // (WAL_FRAME_HEADER + PAGE_SIZE)

    def uninstall(self) -> None:
        """Untraced connections with the usual checkpoints again."""
        from models.base import db

        db.close_all()
        db.obj._connect = self.connect


def loop(app: Any, requests: list[list[Any]], check: bool = True) -> None:
    """Post each request through the test client; every reply must be a check-in success."""
    client = app.test_client()
    for params, body in requests:
        response = client.post(
            "/wechat", query_string=params, data=body.encode(), content_type="text/xml"
        )
        if check and (response.status_code != 200 or b"<Encrypt>" not in response.data):
            raise SystemExit(f"bad answer {response.status_code}: {response.data[:200]!r}")


def first_reply(app: Any, creds: dict[str, str], request: list[Any]) -> str:
    """Deliver one request and return its decrypted reply text (it must be a success)."""
    from bot.simulate import CallbackDriver, flask_poster

    client = app.test_client()
    driver = CallbackDriver(
        token=creds["token"],
        aes_key=creds["aes_key"],
        app_id=creds["app_id"],
        poster=flask_poster(client),
    )
    params, body = request
    status, text = driver.poster(driver.url, params, body.encode(), driver.timeout)
    reply = driver.read_reply(text) if status == 200 else None
    if not reply or EXPECT not in reply:
        raise SystemExit(f"the pre-flight check-in failed: {status} {reply or text!r}")
    return reply


def count_handlers_tried(app: Any) -> Callable[[], int]:
    """Count the handlers whose filter the dispatcher checks (each handler's own filter object
    counts its calls); return how many so far."""
    tried = [0]
    for handler in app.extensions["zhibu.dispatcher"].handlers():
        check = handler.filter.check

        def counted(ctx: Any, check: Callable[[Any], bool] = check) -> bool:
            tried[0] += 1
            return check(ctx)

        handler.filter.check = counted
    return lambda: tried[0]


def profiled(app: Any, requests: list[list[Any]], top: int) -> tuple[dict[str, float], str]:
    """Profile the loop: calls, XML parses and filter checks per check-in; the top functions."""
    tried = count_handlers_tried(app)
    profile = cProfile.Profile()
    profile.enable()
    loop(app, requests)
    profile.disable()
    for handler in app.extensions["zhibu.dispatcher"].handlers():
        del handler.filter.check  # the method again
    stats = pstats.Stats(profile)
    n = len(requests)
    parses = checks = 0
    for (filename, _, name), (_, ncalls, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
        if "pyexpat.xmlparser" in name and "Parse'" in name:
            parses += ncalls
        elif name == "check" and f"{os.sep}bot{os.sep}" in filename:
            checks += ncalls
    figures = {
        # (not counting the counters' own calls)
        "function calls": (stats.total_calls - tried()) / n,  # type: ignore[attr-defined]
        "XML parses (expat Parse)": parses / n,
        "filter checks": checks / n,
        "handlers tried": tried() / n,
    }
    text = ""
    if top:
        out = Path(tempfile.mkstemp(suffix=".txt")[1])
        with out.open("w") as stream:
            pstats.Stats(profile, stream=stream).sort_stats(
                os.environ.get("PROFILE_SORT", "tottime")
            ).print_stats(top)
        text = out.read_text()
        out.unlink()
    return figures, text


def cpu_ms(app: Any, rounds: list[list[list[Any]]]) -> list[float]:
    """Process CPU per check-in of each round, in ms (no profiler attached)."""
    results = []
    for requests in rounds:
        start = time.process_time()
        loop(app, requests)
        results.append((time.process_time() - start) * 1000 / len(requests))
    return results


def copy_database(source: Path, target: Path) -> None:
    """Copy a SQLite database with its WAL (sqlite3's backup API)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()


def callgrind(folder: Path, n: int) -> float:
    """Instructions per check-in: valgrind runs the loop alone with n and 2n check-ins."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
    totals = []
    for size in (n, 2 * n):
        run = folder / f"cg-{size}"
        run.mkdir()
        copy_database(folder / "base.db", run / "db.db")
        config = (folder / "config.toml").read_text()
        (run / "config.toml").write_text(
            re.sub(r'url = "sqlite:///[^"]*"', f'url = "sqlite:///{run / "db.db"}"', config)
        )
        out = run / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(Path(__file__)),
            "--loop-only",
            str(run),
            "--requests",
            str(folder / "requests.json"),
            "-n",
            str(size),
        ]
        env = dict(os.environ, PYTHONMALLOC="malloc")
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"valgrind run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        match = re.search(r"^totals: (\d+)", out.read_text(), re.M)
        if match is None:
            raise SystemExit(f"no totals in {out}")
        totals.append(int(match.group(1)))
        print(f"   callgrind, {size} check-ins: {totals[-1]:,} instructions", flush=True)
    return (totals[1] - totals[0]) / n


def loop_only(folder: Path, requests_file: Path, n: int) -> None:
    """Under valgrind: start the app on ``folder``'s database and run n requests, with
    callgrind's instrumentation on for the loop alone (after one warm-up request).

    Request i goes to member i; the requests file holds the warm-up request first."""
    use_config(folder)
    from app import create_app

    requests = json.loads(requests_file.read_text())
    app = create_app()
    loop(app, requests[:1])
    control = ["callgrind_control", "--instr=on", str(os.getpid())]
    subprocess.run(control, check=True, capture_output=True)
    loop(app, requests[1 : 1 + n])
    control[1] = "--instr=off"
    subprocess.run(control, check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="check-ins per measured run")
    parser.add_argument("--warmup", type=int, default=200, help="check-ins before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of n for the CPU figure")
    parser.add_argument("--top", type=int, default=0, help="print the N dearest functions")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="give every member a check-in on each Monday to Friday of this many past days",
    )
    parser.add_argument("--callgrind", action="store_true", help="instructions per check-in")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--loop-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loop_only:
        loop_only(args.loop_only, args.requests, args.n)
        return 0

    folder = Path(tempfile.mkdtemp(prefix="zhibu-checkin-profile-"))
    try:
        return run(folder, args)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run(folder: Path, args: Any) -> int:
    n = args.n
    creds = write_config(folder, folder / "app.db")
    use_config(folder)
    members = args.warmup + 1 + n * (1 + args.rounds)
    cg_members = 1 + 2 * n if args.callgrind else 0
    t0 = time.monotonic()
    app, openids = prepare(folder, members + cg_members, args.history)
    requests = build_requests(creds, openids)
    print(
        f"seeded {len(openids)} members and built their requests in {time.monotonic() - t0:.1f}s"
    )

    if args.callgrind:  # the database before any check-in, for valgrind's runs
        copy_database(folder / "app.db", folder / "base.db")
        (folder / "requests.json").write_text(json.dumps(requests[members:]))

    cursor = 0

    def take(k: int) -> list[list[Any]]:
        nonlocal cursor
        cursor += k
        return requests[cursor - k : cursor]

    reply = first_reply(app, creds, take(1)[0])
    loop(app, take(args.warmup))
    counter = Statements()
    counter.install(folder / "app.db")
    counter.on = True
    figures, top = profiled(app, take(n), args.top)
    counter.on = False
    figures["WAL pages written"] = counter.wal_frames() / n
    counter.uninstall()
    per = {verb: count / n for verb, count in sorted(counter.verbs.items())}
    data = sum(v for k, v in per.items() if k not in CONTROL)
    cpu = cpu_ms(app, [take(n) for _ in range(args.rounds)])

    history = f", {args.history} days of history each" if args.history else ""
    print(f"\nPer check-in ({n} check-ins, after {args.warmup} warm-up{history}), first reply:")
    print("  " + reply.replace("\n", "\n  "))
    print(f"SQL statements        {sum(per.values()):6.2f}  ({data:.2f} data)")
    print("  by verb             " + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
    for label, value in figures.items():
        print(f"{label:22}{value:8.2f}")
    print(
        f"CPU, ms               {statistics.median(cpu):8.3f}  "
        f"(rounds: {', '.join(f'{c:.3f}' for c in cpu)}; load {os.getloadavg()[0]:.1f})"
    )
    if args.callgrind:
        print(f"instructions          {callgrind(folder, n):,.0f}")
    if top:
        print("\n" + top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
