"""Console benchmark: the committee comparison over 2,000 branches and a branch's home page.

    .venv/bin/python bench/console_bench.py                 # SQLite in a temporary folder
    .venv/bin/python bench/console_bench.py --repeat 7 --keep

What it does, in one invocation:

1. Generates two databases with bench/jobs_bench.py's generator (the same seed and data as the
   jobs benchmark: 2,000 branches and 100,000 members, and one tenth of it), then puts every
   branch in one committee (a city's committee seeing all its branches at once) and makes one
   member of the first branch its committee admin; adds what the committee page's live parts
   read (PEOPLE_DATA: development records and reviews, terms, lost-contact outcomes, volunteer
   entries, county courses).
2. Logs in to the console through a one-time link with Flask's test client (in process: the
   server's own time, no network) and renders, ``--repeat`` times each, the committee
   comparison (/console/committee: the stored branch snapshots, computed by the first, uncounted
   request), 立即更新 (POST /console/committee/refresh: the snapshots computed again, as the
   branch_snapshots job does) and the first branch's home (/console/branch/<id>), counting the
   SQL statements of each request (wrapping ``db.obj.execute_sql``).
3. Baseline, in the same invocation on the same data: the mini-program API's answers built by
   the same handlers, /api/v1/committee/branches (100 branches a page, figures computed for
   all) and /api/v1/branch/overview, so the ratio shows what the HTML costs over the JSON.
4. Times, in process and on their own, the committee page's live parts (the organization
   figures: terms, staff and the out-of-touch query for every branch; the development counts;
   the rectification counts) and the page's people table (/console/committee/people, loaded
   in its own request: 学时 from the stored snapshots, ages and the volunteer month live) with
   its two live parts, each against 500 ms.
5. Prints a Markdown table. Exit status 0: targets met (committee page < 1 s, branch home
   < 200 ms, each live part < 500 ms, the same number of statements at both sizes); 2: a target
   missed; 1: an error.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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
TARGETS = {"committee": 1.0, "branch": 0.2}  # seconds, server side
ADMIN_PHONE = "19900000001"


def generate(db_url: str, config: Path, branches: int, now: datetime) -> None:
    """Fill a database with bench/jobs_bench.py's generator, in a child process."""
    cmd = [sys.executable, str(ROOT / "bench" / "jobs_bench.py"), "--generate", str(branches)]
    cmd += ["--database-url", db_url, "--config", str(config), "--now", now.isoformat()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=True)


def one_committee(db_url: str) -> None:
    """Every branch in the first committee (names made unique), and a committee admin."""
    import sqlite3

    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        first = conn.execute("SELECT min(id) FROM committee").fetchone()[0]
        conn.execute("UPDATE branch SET committee_id = ?, name = name || '-' || id", (first,))
        branch = conn.execute("SELECT min(id) FROM branch").fetchone()[0]
        conn.execute(
            "INSERT INTO member (name, phone, branch_id, status, roles, created_at, updated_at,"
            " version) VALUES ('党委管理员', ?, ?, 'full', 'committee_admin',"
            " '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)",
            (ADMIN_PHONE, branch),
        )
        for statement in PEOPLE_DATA:
            conn.execute(statement)
        conn.execute("ANALYZE")


# What the committee page's live parts read, besides the jobs benchmark's data: development
# records (the generator's applicants, activists and probationary members, each activist with
# two reviews), a term per branch, follow-up outcomes for half the members who never showed up
# (last_active_at empty), a confirmed volunteer entry this month for every fifth party member,
# and a county course for every tenth.
PEOPLE_DATA = (
    "INSERT INTO development_record (member_id, applied_on, talked_on, activist_on,"
    " extension_reason, created_at, updated_at) SELECT id, '2025-03-01',"
    " CASE WHEN status = 'applicant' THEN NULL ELSE '2025-03-20' END,"
    " CASE WHEN status = 'applicant' THEN NULL ELSE '2025-05-01' END,"
    " '', '2026-01-01 00:00:00', '2026-01-01 00:00:00' FROM member"
    " WHERE status IN ('applicant', 'activist', 'probationary')",
    'INSERT INTO development_review (record_id, "on", note, created_at)'
    " SELECT r.id, d.day, '表现良好', '2026-01-01 00:00:00' FROM development_record r"
    " JOIN member m ON m.id = r.member_id"
    " CROSS JOIN (SELECT '2025-11-01' AS day UNION ALL SELECT '2026-05-01') d"
    " WHERE m.status = 'activist'",
    "INSERT INTO branch_term (branch_id, started_on, note, recorded_at)"
    " SELECT id, '2024-06-01', '', '2026-01-01 00:00:00' FROM branch",
    "INSERT INTO contact_outcome (member_id, outcome, happened_on, place, note, recorded_at)"
    " SELECT id, 'lost', '2026-11-10', '', '', '2026-11-10 00:00:00' FROM member"
    " WHERE last_active_at IS NULL AND id % 2 = 0",
    "INSERT INTO volunteer_entry (member_id, branch_id, day, minutes, description, status,"
    " source, reason, created_at) SELECT id, branch_id, '2026-11-21', 120, '社区清扫',"
    " 'confirmed', 'bot', '', '2026-11-21 10:00:00' FROM member"
    " WHERE status IN ('full', 'probationary') AND id % 5 = 0",
    "INSERT INTO training_record (member_id, branch_id, title, day, minutes, created_at)"
    " SELECT id, branch_id, '县委党校专题培训班', '2026-10-15', 960, '2026-10-15 10:00:00'"
    " FROM member WHERE status IN ('full', 'probationary') AND id % 10 = 0",
)


class Counter:
    """Count the statements sent to the database."""

    def __init__(self, database: Any) -> None:
        self.count = 0
        original = database.execute_sql

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        database.execute_sql = counted


def measure(db_url: str, config: Path, now: datetime, repeat: int) -> dict[str, Any]:
    """Render the pages and the API's answers ``repeat`` times each; times and statements."""
    import time_machine

    os.environ["ZHIBU_CONFIG"] = str(config)
    from app import create_app
    from handlers.console.access import issue_login_link
    from handlers.demo import SECRETARY_OPENID  # noqa: F401 - the app's modules load first
    from models.base import db
    from models.org import Member

    app = create_app({"database": {"url": db_url, "lock_timeout": 30.0}})
    settings = app.config["ZHIBU"]
    results: dict[str, Any] = {}
    with time_machine.travel(now, tick=True):
        with app.app_context(), db.connection_context():
            admin = Member.get(Member.phone == ADMIN_PHONE)
            token = issue_login_link(admin, settings=settings, now=now).token
            branch_id = admin.branch_id
        web = app.test_client()
        page = web.get(f"/console/login/link/{token}").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert (
            web.post(f"/console/login/link/{token}", data={"csrf_token": csrf}).status_code == 302
        )
        api_token = api_login(app, admin)
        counter = Counter(db.obj)
        targets = {
            "committee": (web, "/console/committee", {}),
            "refresh": (web, "/console/committee/refresh", {}),
            "branch": (web, f"/console/branch/{branch_id}", {}),
            "people": (web, "/console/committee/people", {"HX-Request": "true"}),
            "api_committee": (
                app.test_client(),
                "/api/v1/committee/branches?limit=100",
                api_token,
            ),
            "api_branch": (
                app.test_client(),
                f"/api/v1/branch/overview?branch_id={branch_id}",
                api_token,
            ),
        }
        # A fresh token: logging in starts a new session (the login page's token is gone).
        fresh = web.get("/console/committee").text  # also stores the first snapshots
        refresh = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', fresh).group(1)}
        for name, (client, path, headers) in targets.items():
            times, statements = [], []
            for _ in range(repeat + 1):  # the first run warms caches and is not counted
                before = counter.count
                began = time.perf_counter()
                if name == "refresh":  # 立即更新: the branch snapshots computed at once
                    answer = client.post(path, data=refresh)
                    answer.status_code = 200 if answer.status_code == 302 else answer.status_code
                else:
                    answer = client.get(path, headers=headers)
                times.append(time.perf_counter() - began)
                statements.append(counter.count - before)
                if answer.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {answer.status_code} {answer.text[:300]}")
            results[name] = {
                "median": statistics.median(times[1:]),
                "max": max(times[1:]),
                "statements": statements[-1],
                "bytes": len(answer.data),
            }
        with app.app_context(), db.connection_context():
            results.update(parts(admin_id(), now, settings, counter, repeat))
    return results


def admin_id() -> int:
    from models.org import Member

    return Member.get(Member.phone == ADMIN_PHONE).id


def parts(member_id: int, now: datetime, settings: Any, counter: Counter, repeat: int) -> dict:
    """The committee page's live parts on their own, in process: the organization figures
    (terms, staff, open lost-contact cases), the development counts and the rectification
    counts, which the page reads besides the stored snapshots; and the people table's (its 学时
    are stored): the age structure and admissions, and the month's volunteer service."""
    from zoneinfo import ZoneInfo

    from core.clock import local_day
    from handlers.development import committee_counts as development_counts
    from handlers.organization import branches_health
    from handlers.rectification import committee_counts
    from handlers.roster.makeup import committee_makeup
    from handlers.volunteer import month_service
    from models.org import Member

    committee_id = Member.get_by_id(member_id).branch.committee_id
    today = local_day(now, ZoneInfo(settings.app.timezone))
    calls = {
        "part_health": lambda: branches_health(now, settings, committee_id),
        "part_development": lambda: development_counts(committee_id, today, settings),
        "part_rectification": lambda: committee_counts(committee_id, today),
        "people_makeup": lambda: committee_makeup(committee_id, today, settings),
        "people_volunteer": lambda: month_service(today.replace(day=1), committee_id=committee_id),
    }
    out = {}
    for name, call in calls.items():
        times, statements = [], []
        for _ in range(repeat + 1):
            before = counter.count
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
            statements.append(counter.count - before)
        out[name] = {
            "median": statistics.median(times[1:]),
            "max": max(times[1:]),
            "statements": statements[-1],
        }
    return out


def api_login(app: Any, member: Any) -> dict[str, str]:
    """An API token for the member (a session row, as /api/v1/login makes one)."""
    from api.auth import token_for
    from core.clock import UTC
    from models.api import ApiSession
    from models.base import db
    from models.wechat import WechatBinding

    with app.app_context(), db.connection_context():
        WechatBinding.create(openid="bench-admin", app="mini", member=member.id)
        session = ApiSession.create(
            openid="bench-admin", member=member.id, expires_at=datetime(2099, 1, 1, tzinfo=UTC)
        )
        return {"Authorization": f"Bearer {token_for(app.config['ZHIBU'], session)}"}


def child(args: argparse.Namespace) -> int:
    now = datetime.fromisoformat(args.now)
    print(json.dumps(measure(args.database_url, Path(args.config), now, args.repeat)))
    return 0


def run_size(folder: Path, config: Path, branches: int, now: datetime, repeat: int) -> dict:
    db_url = f"sqlite:///{folder / f'console-{branches}.db'}"
    began = time.perf_counter()
    generate(db_url, config, branches, now)
    one_committee(db_url)
    print(f"== {branches} branches generated in {time.perf_counter() - began:.1f} s", flush=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--database-url", db_url]
    cmd += ["--config", str(config), "--now", now.isoformat(), "--repeat", str(repeat)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    out = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=2000)
    parser.add_argument("--small-factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--now", default="2026-11-26T20:00:00+08:00")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    now = datetime.fromisoformat(args.now)
    folder = Path(tempfile.mkdtemp(prefix="zhibu-console-bench-"))
    config = folder / "config.toml"
    config.write_text(
        '[app]\nlog_level = "WARNING"\n'
        'secret_key = "bench-console-signing-key-0123456789abcdef"\n',
        encoding="utf-8",
    )
    print(f"== temporary folder {folder}", flush=True)
    try:
        full = run_size(folder, config, args.branches, now, args.repeat)
        small = run_size(folder, config, args.branches // args.small_factor, now, args.repeat)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return report(full, small, args)


def report(full: dict, small: dict, args: argparse.Namespace) -> int:
    rows = [
        ("committee", "api_committee", "/console/committee (every branch, stored figures)"),
        ("branch", "api_branch", "/console/branch/<id> (one branch's home)"),
    ]
    n_small = args.branches // args.small_factor
    print(
        f"\n| page | {args.branches} branches: median / max | baseline: the API's JSON | ratio "
        f"| statements ({args.branches} / {n_small} branches) | target | met |"
    )
    print("|---|---|---|---|---|---|---|")
    missed = False
    for page, base, label in rows:
        got, api = full[page], full[base]
        same = got["statements"] == small[page]["statements"]
        met = got["median"] < TARGETS[page] and same
        missed |= not met
        print(
            f"| {label} | {got['median'] * 1000:.0f} / {got['max'] * 1000:.0f} ms "
            f"| {api['median'] * 1000:.0f} ms | {got['median'] / api['median']:.2f} "
            f"| {got['statements']} / {small[page]['statements']} "
            f"| < {TARGETS[page] * 1000:.0f} ms, constant | {'yes' if met else '**no**'} |"
        )
    got, api = full["refresh"], full["api_committee"]
    print(
        f"| 立即更新 / the branch_snapshots job for this committee (figures computed) "
        f"| {got['median'] * 1000:.0f} / {got['max'] * 1000:.0f} ms "
        f"| {api['median'] * 1000:.0f} ms | {got['median'] / api['median']:.2f} "
        f"| {got['statements']} / {small['refresh']['statements']} | (every 15 min) | |"
    )
    for name, label in PARTS:
        got = full[name]
        met = got["median"] < PART_TARGET and got["statements"] == small[name]["statements"]
        missed |= not met
        print(
            f"| {label} | {got['median'] * 1000:.0f} / {got['max'] * 1000:.0f} ms | | "
            f"| {got['statements']} / {small[name]['statements']} "
            f"| < {PART_TARGET * 1000:.0f} ms, constant | {'yes' if met else '**no**'} |"
        )
    return 2 if missed else 0


PART_TARGET = 0.5  # seconds: each live part of the committee page
PARTS = (
    ("people", "/console/committee/people (学时 stored; ages, volunteer month; own request)"),
    ("part_health", "committee page part: organization (terms, staff, open lost-contact cases)"),
    ("part_development", "committee page part: development counts per branch"),
    ("part_rectification", "committee page part: rectification counts per branch"),
    ("people_makeup", "people table part: age structure and admissions per branch"),
    ("people_volunteer", "people table part: the month's volunteer service per branch"),
)


if __name__ == "__main__":
    sys.exit(main())
