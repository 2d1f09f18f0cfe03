"""Monthly report benchmark: a committee's 月报 over 2,000 branches and 100,000 members.

    .venv/bin/python bench/report_bench.py                       # SQLite, 3 runs of each
    .venv/bin/python bench/report_bench.py --branches 200 --members 10000   # a quick run
    .venv/bin/python bench/report_bench.py --repeat 5 --profile  # + cProfile of one report
    .venv/bin/python bench/report_bench.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/report_bench.py --before /tmp/before   # git archive of an older commit

What it does, in one invocation:

1. **Data** (cached): bench/jobs_bench.py's generator (the same seed and records as the jobs and
   console benchmarks: per branch 50 people, dues assessments and quarterly payments, two
   meetings a month with attendance, this week's topics and check-ins), run at the last day of
   the report month (``--month``, default last month) 20:00 Asia/Shanghai, then extended for a
   month report: every branch in one committee (第1党委), a topic for every day of the month and
   check-ins by the party members on the days before that week (each member with their own
   habit, some never), and voluntary payments recorded in the month (a few reversed). The
   same again at a tenth of the size (``--small-factor``), to count statements. SQLite files are
   kept in ``--cache`` (default: the system's temporary folder) under a key made of the sizes,
   month, seed, the generators' source and the migrations, and reused while the key matches;
   ``--fresh`` builds them again. On PostgreSQL (``--database-url`` names an admin database)
   the databases ``zhibu_reportbench`` and ``zhibu_reportbench_small`` are created, and dropped
   at the end unless ``--keep`` (then a later run with the same key reuses them).
2. **Runs**, each in a fresh child process, interleaved ``--repeat`` times, each measured by the
   parent with ``os.wait4`` (the child's own wall time, user + system CPU and peak RSS; the
   parent stays small, since a child's high-water mark starts at its parent's):
   - *startup*: Python importing the app (``create_app()``), connecting and ``SELECT 1``;
   - *one branch*: ``flask --app app report month YYYY-MM --branch 第1党支部 --out FILE``;
   - *committee*: ``flask --app app report month YYYY-MM --committee 第1党委 --out FILE``;
   - with ``--before DIR``, the same committee report from another checkout (e.g. ``git
     archive`` of an earlier commit unpacked in DIR), for a before/after in one invocation.
3. **Statements**: the committee report once more at both sizes, in process through Flask's
   CLI with every peewee ``execute_sql`` counted (threads included); they must be as many.
4. **Checks** (exit 1 if one fails), in a child process: the workbook opens with openpyxl; its
   汇总 has a row for every branch and a 合计 row equal to the column sums; party members,
   check-ins, participants, meetings held and voluntary payments add up to what the database
   holds (counted here by plain SQL); 学习, 会议记录 and 党费 have their rows; every committee
   run wrote the same bytes (the SHA-256 is printed: the same data gives the same file, before
   and after a change).
5. Prints a Markdown table: medians (and maxima) with ratios against the two baselines.

Exit status: 0 the targets are met (committee report < 10 s and < 300 MB peak RSS, statements
the same at both sizes); 1 an error or a failed check; 2 a clean run that missed a target.

openpyxl writes through lxml when lxml is importable (requirements.lock installs it for
python-docx); unless ``OPENPYXL_LXML`` is set the children run with ``OPENPYXL_LXML=False``.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import jobs_bench as jb  # noqa: E402  (bench/ is not a package)

TARGET_SECONDS = 10.0
TARGET_MB = 300.0
COMMITTEE = "第1党委"
BRANCH = "第1党支部"
SEED = 20261126
PG_NAME = "zhibu_reportbench"
FLASK = ROOT / ".venv" / "bin" / "flask"
STARTUP = (
    "import app as module, handlers\n"
    "from app import create_app\n"
    "from models.base import db\n"
    "app = create_app()\n"
    "with app.app_context(), db.connection_context():\n"
    "    db.execute_sql('SELECT 1').fetchone()\n"
    "print(module.__file__, handlers.__file__)\n"
)


# ---- the data -------------------------------------------------------------------------------


def previous_month() -> date:
    today = datetime.now(jb.TZ).date().replace(day=1)
    return jb.add_months(today, -1)


def parse_month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def generator_now(first: date) -> datetime:
    """The last day of the month, 20:00 Asia/Shanghai: the generator's "now"."""
    return jb.local(jb.add_months(first, 1) - timedelta(days=1), 20)


def month_bounds(first: date) -> tuple[datetime, datetime]:
    """The month's first moment and the next month's, as naive UTC (as stored)."""
    return jb.naive(jb.local(first, 0)), jb.naive(jb.local(jb.add_months(first, 1), 0))


def extend_for_the_month(first: date, now: datetime, seed: int) -> None:
    """On the generated data: one committee, a month of study, voluntary payments."""
    from models.base import db, is_sqlite
    from models.dues import DuesPayment
    from models.org import PARTY_MEMBER_STATUSES
    from models.study import StudyCheckin, StudyTopic

    rng = random.Random(seed + 1)
    bulk = jb.Bulk()
    today = now.astimezone(jb.TZ).date()
    monday = today - timedelta(days=today.weekday())  # the generator covered monday..today
    start, end = month_bounds(first)
    statuses = ", ".join(f"'{s}'" for s in PARTY_MEMBER_STATUSES)
    with db.atomic():
        db.execute_sql('UPDATE "branch" SET "committee_id" = 1')
        party = db.execute_sql(
            f'SELECT "id" FROM "member" WHERE "status" IN ({statuses}) ORDER BY "id"'
        ).fetchall()
        topic_id = db.execute_sql('SELECT MAX("id") FROM "study_topic"').fetchone()[0] or 0
        days, day = {}, first
        while day < monday:
            topic_id += 1
            days[day] = topic_id
            day += timedelta(days=1)
        bulk(
            StudyTopic,
            ["id", "day", "title"],
            ((tid, d, f"{d:%m月%d日}学习：党章第{d.day}条") for d, tid in days.items()),
        )
        habits = [0.0 if rng.random() < 0.15 else rng.uniform(0.2, 0.9) for _ in party]

        def checkins() -> Any:
            for (mid,), habit in zip(party, habits, strict=True):
                for d, tid in days.items():
                    if rng.random() < habit:
                        at = jb.naive(jb.local(d, rng.choice((7, 12, 21)), rng.randint(0, 59)))
                        yield (mid, d, tid, tid, "学习了今天的内容，很有收获。", at, at)

        bulk(
            StudyCheckin,
            ["member", "day", "topic", "topic_key", "reflection", "created_at", "updated_at"],
            checkins(),
        )
        payment_id = db.execute_sql('SELECT MAX("id") FROM "dues_payment"').fetchone()[0] or 0
        payments = []
        span = int((min(jb.naive(now), end) - start).total_seconds()) - 3600
        for (mid,) in party:
            if rng.random() >= 0.03:
                continue
            payment_id += 1
            fen = rng.choice((5000, 10000, 20000, 50000, 100000))
            at = start + timedelta(seconds=rng.randrange(span))
            payments.append((payment_id, mid, "voluntary", fen, "collector", None, at))
            if rng.random() < 0.02:  # recorded by mistake, reversed an hour later
                payment_id += 1
                later = at + timedelta(hours=1)
                payments.append(
                    (payment_id, mid, "reversal", -fen, "collector", payment_id - 1, later)
                )
        bulk(
            DuesPayment,
            ["id", "member", "kind", "amount_fen", "source", "reverses", "recorded_at"],
            payments,
        )
    if not is_sqlite():
        for table in ("study_topic", "dues_payment"):
            db.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT MAX(id) FROM "{table}"))'
            )
    db.execute_sql("ANALYZE")
    if is_sqlite():
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def facts(first: date) -> dict[str, Any]:
    """What the committee report must add up to, counted by plain SQL."""
    from models.base import db
    from models.org import PARTY_MEMBER_STATUSES

    start, end = month_bounds(first)
    last = jb.add_months(first, 1) - timedelta(days=1)
    statuses = ", ".join(f"'{s}'" for s in PARTY_MEMBER_STATUSES)
    p = db.param

    def one(sql: str, *params: Any) -> Any:
        return db.execute_sql(sql, params).fetchone()

    return {
        "branches": one('SELECT COUNT(*) FROM "branch" WHERE "committee_id" = 1')[0],
        "members": one('SELECT COUNT(*) FROM "member"')[0],
        "party": one(f'SELECT COUNT(*) FROM "member" WHERE "status" IN ({statuses})')[0],
        "checkins": one(
            'SELECT COUNT(*), COUNT(DISTINCT c."member_id") FROM "study_checkin" c'
            ' JOIN "member" m ON m."id" = c."member_id"'
            f' WHERE m."status" IN ({statuses}) AND c."day" BETWEEN {p} AND {p}',
            first,
            last,
        ),
        "all_checkins": one('SELECT COUNT(*) FROM "study_checkin"')[0],
        "meetings": one(
            'SELECT COUNT(*) FROM "meeting" WHERE "status" = \'scheduled\''
            f' AND "starts_at" >= {p} AND "starts_at" < {p}',
            start,
            end,
        )[0],
        "voluntary_fen": one(
            'SELECT COALESCE(SUM("amount_fen"), 0) FROM "dues_payment"'
            " WHERE \"kind\" = 'voluntary'"
            f' AND "recorded_at" >= {p} AND "recorded_at" < {p} AND "id" NOT IN'
            ' (SELECT "reverses_id" FROM "dues_payment" WHERE "kind" = \'reversal\''
            ' AND "reverses_id" IS NOT NULL)',
            start,
            end,
        )[0],
    }


def judge_the_month(first: date, settings: Any) -> int:
    """The month's branch assessment, judged and stored as the assessment_month job does at
    01:30 on the 1st, before the monthly_report job (08:00) sends the report's link: the
    report reads the stored figures (judging them itself only when none are stored)."""
    from handlers.assessment import store_last_month

    return store_last_month(jb.local(jb.add_months(first, 1), 1, 30), settings)


def build(db_url: str, config: Path, branches: int, members: int, first: date) -> int:
    """Child: migrate, generate, extend; print the facts as JSON."""
    settings = jb.setup(db_url, config)
    from models.base import db
    from models.migrate import upgrade

    jb.MEMBERS_PER_BRANCH = members // branches  # generate() reads the module's constant
    now = generator_now(first)
    with db.connection_context():
        upgrade(db.obj)
        began = time.perf_counter()
        jb.generate(branches, now, settings, SEED)
        extend_for_the_month(first, now, SEED)
        judge_the_month(first, settings)
        seconds = time.perf_counter() - began
        found = facts(first)
    found["seconds"] = seconds
    print(json.dumps(found, default=str), flush=True)
    return 0


def cache_key(branches: int, members: int, first: date) -> str:
    """Sizes, month, seed, the generators' source and the migrations: a changed one rebuilds."""
    digest = hashlib.sha256()
    for func in (jb.generate, jb.Bulk, extend_for_the_month, judge_the_month, facts):
        digest.update(inspect.getsource(func).encode())
    for path in sorted((ROOT / "migrations").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return f"{branches}b-{members}m-{first:%Y-%m}-{SEED}-{digest.hexdigest()[:12]}"


def child_env(config: Path, code: Path = ROOT) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env["ZHIBU_CONFIG"] = str(config)
    env.setdefault("OPENPYXL_LXML", "False")  # requirements.lock installs no lxml
    env["PYTHONPATH"] = str(code)
    return env


def write_config(folder: Path, db_url: str) -> Path:
    config = folder / f"config-{hashlib.sha1(db_url.encode()).hexdigest()[:8]}.toml"
    config.write_text(
        '[app]\nlog_level = "WARNING"\n'
        'secret_key = "bench-report-signing-key-0123456789abcdef"\n'
        f'[database]\nurl = "{db_url}"\nlock_timeout = 30.0\n',
        encoding="utf-8",
    )
    return config


def pg_exists(admin_url: str, name: str) -> bool:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            return cur.fetchone() is not None
    finally:
        conn.close()


def dataset(
    args: argparse.Namespace, work: Path, branches: int, members: int, name: str
) -> tuple[str, dict[str, Any], bool]:
    """(database URL, facts, reused) of one size: the cached one, or a new one."""
    key = ("pg-" if args.database_url else "") + cache_key(branches, members, args.first)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    saved = cache / f"{key}.json"
    if args.database_url:
        url = f"{args.database_url.rpartition('/')[0]}/{name}"
        if not args.fresh and saved.exists():
            made = json.loads(saved.read_text())
            if made.get("url") == url and pg_exists(args.database_url, name):
                return url, made["facts"], True
        url = jb.pg_create(args.database_url, name)
    else:
        folder = cache / key
        url = f"sqlite:///{folder / 'report.db'}"
        if not args.fresh and saved.exists() and (folder / "report.db").exists():
            return url, json.loads(saved.read_text())["facts"], True
        stale = key.rsplit("-", 1)[0] + "-"  # the same sizes, month and seed: older code
        for old in cache.glob(stale + "*"):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        building = cache / f"{key}.building"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        build_url = f"sqlite:///{building / 'report.db'}"
    target = url if args.database_url else build_url
    config = write_config(work, target)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--build", "--database-url", target]
    cmd += ["--config", str(config), "--branches", str(branches), "--members", str(members)]
    cmd += ["--month", f"{args.first:%Y-%m}"]
    out = subprocess.run(
        cmd, cwd=ROOT, env=child_env(config), stdout=subprocess.PIPE, text=True, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    if not args.database_url:
        building.rename(folder)
    saved.write_text(json.dumps({"url": url, "facts": found}, ensure_ascii=False))
    return url, found, False


# ---- running and measuring ------------------------------------------------------------------


def run(cmd: list[str], env: dict[str, str], work: Path, cwd: Path = ROOT) -> dict[str, Any]:
    """Run a child; its wall time, CPU and peak RSS (os.wait4), and the machine's other CPU."""
    log = work / "child.log"
    busy, began = jb.machine_busy(), time.perf_counter()
    with log.open("w+b") as output:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - began
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        output.seek(0)
        out = output.read().decode("utf-8", "replace")
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited with {code}\n{out}")
    cpu = usage.ru_utime + usage.ru_stime
    others = max(0.0, jb.machine_busy() - busy - cpu) / elapsed if elapsed else 0.0
    return {
        "seconds": elapsed,
        "cpu": cpu,
        "rss_kb": usage.ru_maxrss,
        "others": others,
        "out": out,
    }


def count_child(flask_args: list[str]) -> int:
    """Child: run the CLI in process with every peewee statement counted (worker threads too)."""
    import threading

    import peewee

    seen: list[tuple[str, float]] = []
    lock = threading.Lock()
    original = peewee.Database.execute_sql

    def counting(self: Any, sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(self, sql, params, *args, **kwargs)
        finally:
            with lock:
                seen.append((sql, time.perf_counter() - began))

    peewee.Database.execute_sql = counting  # type: ignore[method-assign]
    from flask.cli import cli

    try:
        cli.main(args=["--app", "app", *flask_args], prog_name="flask", standalone_mode=False)
    finally:
        peewee.Database.execute_sql = original  # type: ignore[method-assign]
    kinds: dict[str, int] = {}
    for sql, _ in seen:
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        kinds[word] = kinds.get(word, 0) + 1
    slowest = sorted(seen, key=lambda s: -s[1])[:8]
    print(
        json.dumps(
            {
                "statements": len(seen),
                "kinds": kinds,
                "slowest": [[round(t, 3), " ".join(sql.split())[:160]] for sql, t in slowest],
            },
            ensure_ascii=False,
        ),
        flush=True,
    )
    return 0


# ---- checking the workbook ------------------------------------------------------------------


def weeks_in(first: date) -> int:
    last = jb.add_months(first, 1) - timedelta(days=1)
    return (last - (first - timedelta(days=first.weekday()))).days // 7 + 1


def verify(path: Path, found: dict[str, Any], first: date) -> int:
    """Child: open the workbook with openpyxl and check it against the facts."""
    from decimal import Decimal

    from openpyxl import load_workbook

    problems: list[str] = []
    wb = load_workbook(path, read_only=True)
    sheets = {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    wb.close()
    expected_sheets = ["汇总", "学习", "会议要求", "会议记录", "党费"]
    expected_sheets += ["志愿服务", "学时", "星级评定"]
    if list(sheets) != expected_sheets:
        problems.append(f"sheets {list(sheets)} != {expected_sheets}")
    n = found["branches"]
    summary = sheets.get("汇总", [])
    body, total = summary[1:-1], summary[-1] if summary else []
    if len(body) != n or not total or total[0] != "合计":
        problems.append(f"汇总: {len(body)} branch rows (want {n}) and last row {total[:1]}")
    names = {row[0] for row in body}
    if names != {f"第{b}党支部" for b in range(1, n + 1)}:
        problems.append("汇总: the branch names are not every branch's, once")

    def money(value: Any) -> Decimal:
        return Decimal(str(value or 0)).quantize(Decimal("0.01"))

    for col in range(1, 15):
        if col == 3:
            continue
        add = money if 8 <= col <= 11 else (lambda v: v or 0)
        column_sum = sum(add(row[col]) for row in body)
        if add(total[col]) != column_sum:
            problems.append(f"汇总 column {summary[0][col]}: 合计 {total[col]} != {column_sum}")
    checkins, participants = found["checkins"]
    wanted = {
        1: found["party"],
        2: participants,
        4: checkins,
        7: found["meetings"],
        11: money(Decimal(found["voluntary_fen"]) / 100),
    }
    for col, value in wanted.items():
        got = money(total[col]) if col == 11 else total[col]
        if got != value:
            problems.append(f"汇总 合计 {summary[0][col]} {got} != {value} in the database")
    if found["party"] and total[3] != participants / found["party"]:
        problems.append(f"汇总 合计 学习参与率 {total[3]}")
    weeks = weeks_in(first) + 1
    rows = {
        "学习": 1 + n * weeks + weeks,
        "会议记录": 1 + found["meetings"] + 1,
        "党费": 1 + n + 1,
    }
    for title, count in rows.items():
        if len(sheets.get(title, [])) != count:
            problems.append(f"{title}: {len(sheets.get(title, []))} rows, want {count}")
    if len(sheets.get("会议要求", [])) < n + 2:
        problems.append(f"会议要求: {len(sheets.get('会议要求', []))} rows, want a row a branch")
    print(
        json.dumps(
            {"problems": problems, "rows": {t: len(r) for t, r in sheets.items()}},
            ensure_ascii=False,
        ),
        flush=True,
    )
    return 0


# ---- the parent -----------------------------------------------------------------------------


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def profile(url: str, env: dict[str, str], work: Path, month: str) -> None:
    """cProfile of one committee report (a separate run, not measured), to stderr."""
    import pstats

    out = work / "profile.xlsx"
    stats = work / "report.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(stats), str(FLASK), "--app", "app"]
    cmd += ["report", "month", month, "--committee", COMMITTEE, "--out", str(out)]
    run(cmd, env, work)
    printed = pstats.Stats(str(stats), stream=sys.stderr)
    printed.sort_stats("cumulative").print_stats(40)
    printed.sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=2000)
    parser.add_argument("--members", type=int, default=100_000, help="a multiple of --branches")
    parser.add_argument("--month", help="YYYY-MM, default last month")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (median reported)")
    parser.add_argument("--small-factor", type=int, default=10, help="the small size is 1/N")
    parser.add_argument(
        "--database-url", help="postgresql://…/ADMIN_DB: benchmark on PostgreSQL instead"
    )
    parser.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "zhibu-report-bench"),
        help="where the SQLite datasets are kept between runs",
    )
    parser.add_argument("--fresh", action="store_true", help="build the datasets again")
    parser.add_argument("--keep", action="store_true", help="keep the work folder, PG databases")
    parser.add_argument("--profile", action="store_true", help="also cProfile one report")
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also time the committee report from another checkout (e.g. a git archive of an "
        "earlier commit), interleaved with this one's",
    )
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--verify", help=argparse.SUPPRESS)
    parser.add_argument("--facts", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    args.first = parse_month(args.month) if args.month else previous_month()
    if args.count_child:
        return count_child(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.build:
        return build(args.database_url, Path(args.config), args.branches, args.members, args.first)
    if args.verify:
        return verify(Path(args.verify), json.loads(args.facts), args.first)
    per_branch = args.members // args.branches if args.branches else 0
    if args.members % args.branches or per_branch < 13:
        parser.error("--members must be a multiple of --branches, at least 13 a branch")
    small = max(1, args.branches // args.small_factor)
    month = f"{args.first:%Y-%m}"
    work = Path(tempfile.mkdtemp(prefix="zhibu-report-bench-"))
    print(f"== work folder {work}; cache {args.cache}", flush=True)
    pg_names: list[str] = []
    try:
        sizes = {}
        for size, (branches, name) in {
            "full": (args.branches, PG_NAME),
            "small": (small, f"{PG_NAME}_small"),
        }.items():
            began = time.perf_counter()
            url, found, reused = dataset(args, work, branches, branches * per_branch, name)
            if args.database_url:
                pg_names.append(name)
            what = "reused" if reused else f"built in {time.perf_counter() - began:.1f} s"
            print(
                f"== {size}: {found['branches']} branches, {found['members']} people "
                f"({found['party']} party members), {found['all_checkins']} check-ins "
                f"({found['checkins'][0]} in {month}), {found['meetings']} meetings in {month}: "
                f"{what}",
                flush=True,
            )
            sizes[size] = (url, found)
        return measure(args, work, sizes, month)
    finally:
        if args.database_url and not args.keep:
            for name in pg_names:
                jb.pg_drop(args.database_url, name)
                for saved in Path(args.cache).glob("*.json"):
                    if json.loads(saved.read_text()).get("url", "").endswith(f"/{name}"):
                        saved.unlink()
        if args.keep:
            print(f"== kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def measure(
    args: argparse.Namespace,
    work: Path,
    sizes: dict[str, tuple[str, dict[str, Any]]],
    month: str,
) -> int:
    url, found = sizes["full"]
    config = write_config(work, url)
    env = child_env(config)
    flask = [str(FLASK), "--app", "app", "report", "month", month]
    runs: dict[str, list[dict[str, Any]]] = {"startup": [], "branch": [], "committee": []}
    before = Path(args.before).resolve() if args.before else None
    if before is not None:
        runs["before"] = []
    hashes: list[str] = []
    before_hashes: list[str] = []
    for r in range(args.repeat):
        started = run([sys.executable, "-c", STARTUP], env, work)
        paths = started["out"].split()
        if not all(p.startswith(str(ROOT)) for p in paths[-2:]):
            raise SystemExit(f"the children import another checkout's code: {paths}")
        runs["startup"].append(started)
        runs["branch"].append(
            run([*flask, "--branch", BRANCH, "--out", str(work / f"branch-{r}.xlsx")], env, work)
        )
        out = work / f"committee-{r}.xlsx"
        runs["committee"].append(
            run([*flask, "--committee", COMMITTEE, "--out", str(out)], env, work)
        )
        hashes.append(hashlib.sha256(out.read_bytes()).hexdigest())
        if before is not None:
            old = work / f"before-{r}.xlsx"
            cmd = [*flask, "--committee", COMMITTEE, "--out", str(old)]
            runs["before"].append(run(cmd, child_env(config, before), work, cwd=before))
            before_hashes.append(hashlib.sha256(old.read_bytes()).hexdigest())
        last = runs["committee"][-1]
        earlier = f", before {runs['before'][-1]['seconds']:.2f} s" if before is not None else ""
        print(
            f"   run {r + 1}: startup {started['seconds']:.2f} s, "
            f"branch {runs['branch'][-1]['seconds']:.2f} s, committee {last['seconds']:.2f} s "
            f"/ {last['cpu']:.2f} s CPU / {last['rss_kb'] / 1024:.0f} MB{earlier} "
            f"(others {last['others']:.2f} cores)",
            flush=True,
        )
    print("   " + last["out"].strip().replace("\n", "\n   "), flush=True)
    counts = {}
    for size, (size_url, _) in sizes.items():
        size_config = write_config(work, size_url)
        out = work / f"count-{size}.xlsx"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--count-child", "--"]
        cmd += ["report", "month", month, "--committee", COMMITTEE, "--out", str(out)]
        got = run(cmd, child_env(size_config), work)
        counts[size] = json.loads(got["out"].strip().splitlines()[-1])
    checked = run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--verify",
            str(work / "committee-0.xlsx"),
            "--facts",
            json.dumps(found),
            "--month",
            month,
        ],
        env,
        work,
    )
    verdict = json.loads(checked["out"].strip().splitlines()[-1])
    if args.profile:
        profile(url, env, work, month)
    return report(
        args, runs, hashes, before_hashes, counts, verdict, found, work / "committee-0.xlsx"
    )


def report(
    args: argparse.Namespace,
    runs: dict[str, list[dict[str, Any]]],
    hashes: list[str],
    before_hashes: list[str],
    counts: dict[str, dict[str, Any]],
    verdict: dict[str, Any],
    found: dict[str, Any],
    sample: Path,
) -> int:
    t = {k: median_of(v, "seconds") for k, v in runs.items()}
    cpu = {k: median_of(v, "cpu") for k, v in runs.items()}
    rss = {k: max(r["rss_kb"] for r in v) / 1024 for k, v in runs.items()}
    others = max(r["others"] for v in runs.values() for r in v)
    engine = "PostgreSQL" if args.database_url else "SQLite"
    small = counts["small"]["statements"]
    full = counts["full"]["statements"]
    print(
        f"\n{engine}, {found['branches']} branches / {found['members']} people, month "
        f"{args.first:%Y-%m}, median of {args.repeat} runs (max in brackets), load "
        f"{jb.load_average()}, other processes up to {others:.2f} cores during a run, "
        f"{os.cpu_count()} cores, {jb.cpu_model()}, git {jb.source_version()}\n"
    )
    print("| run | wall | CPU | peak RSS | wall / startup | RSS / startup | wall / one branch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    labels = {
        "startup": "startup: import the app, connect, `SELECT 1`",
        "branch": f"one branch: `report month --branch {BRANCH}`",
        "committee": f"committee: `report month --committee {COMMITTEE}`",
    }
    if "before" in runs:
        labels["before"] = f"committee, the code in {args.before}"
    for key, label in labels.items():
        mx = max(r["seconds"] for r in runs[key])
        print(
            f"| {label} | {t[key]:.2f} s ({mx:.2f}) | {cpu[key]:.2f} s | {rss[key]:.0f} MB "
            f"| {t[key] / t['startup']:.2f} | {rss[key] / rss['startup']:.2f} "
            f"| {t[key] / t['branch']:.2f} |"
        )
    print(
        f"\nStatements of the committee report: {full} at {found['branches']} branches, "
        f"{small} at 1/{args.small_factor} of the size ({counts['full']['kinds']})."
    )
    print("Slowest statements (full size):")
    for seconds, sql in counts["full"]["slowest"]:
        print(f"  {seconds:7.3f} s  {sql}")
    print(f"Workbook {sample.stat().st_size / 1024:.0f} kB, rows per sheet {verdict['rows']}")
    print(f"SHA-256 of the committee workbook: {hashes[0]}")
    if before_hashes:
        same = set(before_hashes) == {hashes[0]}
        print(f"The code in {args.before} wrote {'the same bytes' if same else before_hashes[0]}")
        if "before" in t:
            print(
                f"committee / before: wall {t['committee'] / t['before']:.2f}, "
                f"CPU {cpu['committee'] / cpu['before']:.2f}, "
                f"peak RSS {rss['committee'] / rss['before']:.2f}"
            )
    problems = list(verdict["problems"])
    if len(set(hashes)) != 1:
        problems.append(f"the committee runs wrote different files: {hashes}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if problems:
        return 1
    missed = []
    if t["committee"] >= TARGET_SECONDS:
        missed.append(f"time {t['committee']:.2f} s >= {TARGET_SECONDS:.0f} s")
    if rss["committee"] >= TARGET_MB:
        missed.append(f"peak RSS {rss['committee']:.0f} MB >= {TARGET_MB:.0f} MB")
    if full != small:
        missed.append(f"statements {full} != {small}")
    print("Targets (< 10 s, < 300 MB, constant statements): " + ("; ".join(missed) or "met"))
    return 2 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
