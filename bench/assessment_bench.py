"""Branch assessment benchmark: judging a month for 2,000 branches, and the pages that read it.

    .venv/bin/python bench/assessment_bench.py              # SQLite in a temporary folder
    .venv/bin/python bench/assessment_bench.py --repeat 7 --keep

What it does, in one invocation:

1. Generates two databases with bench/console_bench.py's generator and committee (2,000
   branches and 100,000 members in one committee, and one tenth of it), the records in
   November 2026, the branches in the system since January, plus the records the later
   criteria read (``LATER_RECORDS``: terms, 学时, volunteer service, development records).
2. At 2026-12-02 (November complete), in process (the server's own time): judges November for
   every branch and stores it, as the ``assessment_month`` job and ``assessment backfill`` do
   (``--repeat`` times; each replaces the last); then renders, ``--repeat`` times each, the
   console's committee table (/console/committee/assessment), the first branch's page with its
   six-month trend (/console/branch/<id>/assessment; its earlier months are judged by the
   first, uncounted request) and the API's committee list (100 a page), counting the SQL
   statements of each.
3. Prints a Markdown table. Exit status 0: targets met (committee table < 1 s, branch page
   < 200 ms, the same number of statements at both sizes); 2: a target missed; 1: an error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.console_bench import (  # noqa: E402
    ADMIN_PHONE,
    Counter,
    api_login,
    generate,
    one_committee,
)

TARGETS = {"committee": 1.0, "branch": 0.2}  # seconds, server side
DATA_NOW = datetime.fromisoformat("2026-11-26T20:00:00+08:00")
NOW = datetime.fromisoformat("2026-12-02T09:00:00+08:00")


def measure(db_url: str, config: Path, repeat: int) -> dict[str, Any]:
    import time_machine

    os.environ["ZHIBU_CONFIG"] = str(config)
    from app import create_app
    from handlers.assessment import backfill
    from models.base import db
    from models.org import Member

    app = create_app({"database": {"url": db_url, "lock_timeout": 30.0}})
    settings = app.config["ZHIBU"]
    results: dict[str, Any] = {}
    with time_machine.travel(NOW, tick=True):
        counter = Counter(db.obj)
        times, statements = [], []
        with app.app_context(), db.connection_context():
            admin = Member.get(Member.phone == ADMIN_PHONE)
            committee = admin.branch.committee.name
            for _ in range(repeat):
                before, began = counter.count, time.perf_counter()
                month = datetime(2026, 11, 1).date()
                backfill(month, month, committee_name=committee, now=NOW, settings=settings)
                times.append(time.perf_counter() - began)
                statements.append(counter.count - before)
        results["judge"] = {
            "median": statistics.median(times),
            "max": max(times),
            "statements": statements[-1],
        }
        web = console_client(app, admin, NOW)
        targets = {
            "committee": (web, "/console/committee/assessment", {}),
            "branch": (web, f"/console/branch/{admin.branch_id}/assessment", {}),
            "api": (
                app.test_client(),
                "/api/v1/committee/assessment?limit=100",
                api_login(app, admin),
            ),
        }
        for name, (client, path, headers) in targets.items():
            times, statements = [], []
            for _ in range(repeat + 1):  # the first run warms caches and is not counted
                before, began = counter.count, time.perf_counter()
                answer = client.get(path, headers=headers)
                times.append(time.perf_counter() - began)
                statements.append(counter.count - before)
                if answer.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {answer.status_code} {answer.text[:300]}")
            results[name] = {
                "median": statistics.median(times[1:]),
                "max": max(times[1:]),
                "statements": statements[-1],
            }
    return results


def since_january(db_url: str) -> None:
    """Every branch in the system since January, so November is judged."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE branch SET created_at = '2026-01-01 00:00:00'")


# The later criteria's records, in SQL over the generated rows (every branch alike): a committee
# term each (started over three years, so some have run out by November), 学时 recorded for
# every party member (200 to 1,800 minutes), volunteer service in November for a third of them
# (one in seven still waiting), and development records for the applicants (half talked),
# activists (half reviewed) and probationary members (admitted in late 2025).
LATER_RECORDS = (
    """INSERT INTO branch_term (branch_id, started_on, years, note, recorded_at)
    SELECT id, date('2023-06-01', '+' || (id % 36) || ' months'), NULL, '', '2026-01-01 00:00:00'
    FROM branch""",
    """INSERT INTO training_record (member_id, branch_id, title, day, minutes, created_at)
    SELECT id, branch_id, '县委党校培训', date('2026-03-01', '+' || (id % 240) || ' days'),
        (id % 5) * 400 + 200, '2026-01-01 00:00:00'
    FROM member WHERE status IN ('probationary', 'full')""",
    """INSERT INTO volunteer_entry
        (member_id, branch_id, day, minutes, description, status, source, reason, created_at)
    SELECT id, branch_id, date('2026-11-01', '+' || (id % 30) || ' days'), 30 + (id % 6) * 30,
        '社区清扫', CASE WHEN id % 7 = 0 THEN 'pending' ELSE 'confirmed' END, 'bot', '',
        '2026-11-01 00:00:00'
    FROM member WHERE status IN ('probationary', 'full') AND id % 3 = 0""",
    """INSERT INTO development_record
        (member_id, applied_on, talked_on, extension_reason, created_at, updated_at)
    SELECT id, date('2026-09-15', '+' || (id % 70) || ' days'),
        CASE WHEN id % 2 = 0 THEN date('2026-09-15', '+' || (id % 70 + 20) || ' days') END,
        '', '2026-01-01 00:00:00', '2026-01-01 00:00:00'
    FROM member WHERE status = 'applicant'""",
    """INSERT INTO development_record
        (member_id, applied_on, talked_on, activist_on, extension_reason, created_at, updated_at)
    SELECT id, '2025-06-01', '2025-06-20', date('2025-11-01', '+' || (id % 365) || ' days'),
        '', '2026-01-01 00:00:00', '2026-01-01 00:00:00'
    FROM member WHERE status = 'activist'""",
    """INSERT INTO development_review (record_id, "on", note, created_at)
    SELECT id, date(activist_on, '+170 days'), '', '2026-01-01 00:00:00'
    FROM development_record WHERE activist_on IS NOT NULL AND id % 2 = 0
        AND date(activist_on, '+170 days') <= '2026-11-26'""",
    """INSERT INTO development_record (member_id, admitted_on, extension_reason, created_at,
        updated_at)
    SELECT id, date('2025-10-01', '+' || (id % 120) || ' days'), '', '2026-01-01 00:00:00',
        '2026-01-01 00:00:00'
    FROM member WHERE status = 'probationary'""",
)


def later_records(db_url: str) -> None:
    """The training, development, term and volunteer records the later criteria read."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        for statement in LATER_RECORDS:
            conn.execute(statement)


def console_client(app: Any, admin: Any, now: datetime) -> Any:
    """A Flask test client logged in to the console as the admin (a one-time link)."""
    from handlers.console.access import issue_login_link
    from models.base import db

    with app.app_context(), db.connection_context():
        token = issue_login_link(admin, settings=app.config["ZHIBU"], now=now).token
    web = app.test_client()
    page = web.get(f"/console/login/link/{token}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert web.post(f"/console/login/link/{token}", data={"csrf_token": csrf}).status_code == 302
    return web


def run_size(folder: Path, config: Path, branches: int, repeat: int) -> dict:
    db_url = f"sqlite:///{folder / f'assessment-{branches}.db'}"
    began = time.perf_counter()
    generate(db_url, config, branches, DATA_NOW)
    one_committee(db_url)
    since_january(db_url)
    later_records(db_url)
    print(f"== {branches} branches generated in {time.perf_counter() - began:.1f} s", flush=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--database-url", db_url]
    cmd += ["--config", str(config), "--repeat", str(repeat)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    out = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=2000)
    parser.add_argument("--small-factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.database_url, Path(args.config), args.repeat)))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="zhibu-assessment-bench-"))
    config = folder / "config.toml"
    config.write_text(
        '[app]\nlog_level = "WARNING"\n'
        'secret_key = "bench-assessment-signing-key-0123456789abcdef"\n',
        encoding="utf-8",
    )
    print(f"== temporary folder {folder}", flush=True)
    try:
        full = run_size(folder, config, args.branches, args.repeat)
        small = run_size(folder, config, args.branches // args.small_factor, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"| measure | {args.branches} branches | {args.branches // args.small_factor} |")
    print("|---|---|---|")
    for name in ("judge", "committee", "branch", "api"):
        a, b = full[name], small[name]
        print(
            f"| {name} | {a['median'] * 1000:.0f} ms median ({a['max'] * 1000:.0f} max), "
            f"{a['statements']} statements | {b['median'] * 1000:.0f} ms, "
            f"{b['statements']} statements |"
        )
    met = all(full[k]["median"] < limit for k, limit in TARGETS.items()) and all(
        full[k]["statements"] == small[k]["statements"] for k in ("committee", "branch", "api")
    )
    print("targets met" if met else "a target was missed")
    return 0 if met else 2


if __name__ == "__main__":
    sys.exit(main())
