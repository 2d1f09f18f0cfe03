"""The prune job at a committee's size: years of check-ins and messages for 100,000 members.

    .venv/bin/python bench/prune_bench.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/prune_bench.py                       # SQLite in a temporary folder
    .venv/bin/python bench/prune_bench.py --members 20000 --days 1500

What it does, in one invocation:

1. Creates a fresh database (PostgreSQL: a new database beside the one named, dropped at the
   end) with the app's migrations, and fills it with SQL (``generate_series`` / recursive
   CTEs): ``--members`` members in branches of 50; for each member a check-in every
   ``--every`` days over the last ``--days`` days, each with a reflection; as many outbox
   messages (sent, a few dead); a mini-program session a member expiring over the last 60
   days; a drain run record every 10 s over the last ``--run-days`` days.
2. Prints each rule's chunk query plan (``EXPLAIN``): each must read an index, not the table.
3. Runs the prune twice as the job does (``handlers.housekeeping.prune``): first the backlog
   (every reflection past three years, every message past 90 days), then the next night
   (one more day's worth), timing each and the longest single write transaction (a chunk).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

TZ = ZoneInfo("Asia/Shanghai")


def _sql(pg: bool, now: datetime, a: argparse.Namespace) -> list[str]:
    """The statements that fill the database (the same rows on either engine)."""
    ts = (lambda e: e) if pg else (lambda e: f"strftime('%Y-%m-%d %H:%M:%S', {e})")
    at = f"'{now.astimezone(ZoneInfo('UTC')).strftime('%Y-%m-%d %H:%M:%S')}'"
    minus = (
        (lambda n, unit: f"({at}::timestamp - ({n}) * interval '1 {unit}')")
        if pg
        else (lambda n, unit: f"datetime({at}, '-' || ({n}) || ' {unit}s')")
    )
    day = (
        (lambda n: f"({minus(n, 'day')})::date") if pg else (lambda n: f"date({minus(n, 'day')})")
    )
    series = (
        (lambda name, n: f"generate_series(1, {n}) AS {name}(i)")
        if pg
        else (
            lambda name, n: (
                f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                f"WHERE i < {n}) SELECT i FROM s) AS {name}"
            )
        )
    )
    branches = -(-a.members // 50)
    per = a.days // a.every
    runs = a.run_days * 8640
    sent = f"c.i * {a.every} + m.id % {a.every}"  # each member's days, spread over the days
    return [
        "INSERT INTO committee (name, created_at) VALUES ('测试党委', " + at + ")",
        f"INSERT INTO branch (committee_id, name, created_at) SELECT 1, '支部' || b.i, {at} "
        f"FROM {series('b', branches)}",
        "INSERT INTO member (name, phone, branch_id, status, roles, created_at, updated_at, "
        f"version) SELECT '党员' || m.i, '139' || (10000000 + m.i), (m.i - 1) / 50 + 1, 'full', "
        f"'', {at}, {at}, 1 FROM {series('m', a.members)}",
        "INSERT INTO study_checkin (member_id, day, topic_key, reflection, source, created_at, "
        f"updated_at) SELECT m.id, {day(f'c.i * {a.every} + m.id % {a.every}')}, 0, "
        f"'今天学习了党章，体会是' || c.i, 'bot', {ts(minus(f'c.i * {a.every}', 'day'))}, "
        f"{ts(minus(f'c.i * {a.every}', 'day'))} FROM member m, {series('c', per)}",
        "INSERT INTO outbox_message (kind, target_type, target_id, period, branch_id, channel, "
        "payload, status, attempts, parts_sent, credit_spent, next_attempt_at, last_error, "
        f"created_at, sent_at) SELECT 'dues_personal', 'member', m.id, 'p' || c.i, m.branch_id, "
        f"'template', '{{\"text\": \"党费提醒\"}}', CASE WHEN c.i % 50 = 0 THEN 'dead' ELSE "
        f"'sent' END, 1, 1, {'false' if pg else '0'}, {ts(minus(sent, 'day'))}, "
        f"'', {ts(minus(sent, 'day'))}, CASE WHEN c.i % 50 = 0 THEN NULL ELSE "
        f"{ts(minus(sent, 'day'))} END FROM member m, {series('c', per)}",
        "INSERT INTO api_session (token_id, openid, member_id, issued_at, expires_at) SELECT "
        f"'t' || m.id, 'o' || m.id, m.id, {ts(minus('m.id % 60 + 7', 'day'))}, "
        f"{ts(minus('m.id % 60', 'day'))} FROM member m",
        "INSERT INTO job_run (job_id, tick, holder, started_at, finished_at, ok, detail) SELECT "
        f"'outbox_drain', 'interval:' || r.i, 'h', {ts(minus('r.i * 10', 'second'))}, "
        f"{ts(minus('r.i * 10', 'second'))}, {'true' if pg else '1'}, '' "
        f"FROM {series('r', runs)}",
    ]


@contextmanager
def _database(url: str | None) -> Any:
    """A fresh database URL: a new PostgreSQL database beside url, or a temporary SQLite file."""
    if not url:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/prune.db"
        return
    import psycopg2

    name = f"zhibu_prune_bench_{int(time.time())}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlparse(url)._replace(path=f"/{name}").geturl()
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _timed_transactions(housekeeping: Any) -> list[float]:
    """Make housekeeping's write transactions record how long each was held."""
    held: list[float] = []
    original = housekeeping.write_tx

    @contextmanager
    def timed() -> Any:
        start = time.perf_counter()
        with original() as tx:
            yield tx
        held.append(time.perf_counter() - start)

    housekeeping.write_tx = timed
    return held


def _vacuum(pg: bool) -> None:
    """VACUUM ANALYZE (PostgreSQL: outside a transaction), as autovacuum would."""
    from models.base import db

    if not pg:
        db.execute_sql("ANALYZE")
        return
    connection = db.connection()
    connection.autocommit = True
    try:
        connection.cursor().execute("VACUUM ANALYZE")
    finally:
        connection.autocommit = False


def _plans(rules: list[Any], pg: bool) -> None:
    """Print the plan of each rule's chunk query."""
    from handlers import housekeeping
    from models.base import db

    for rule in rules:
        query = rule.model.select(rule.model.id).where(rule.cond).limit(housekeeping.CHUNK)
        if rule.order is not None:  # as the first chunk reads
            query = query.order_by(rule.order)
        sql, params = query.sql()
        plan = db.execute_sql(("EXPLAIN " if pg else "EXPLAIN QUERY PLAN ") + sql, params)
        lines = [row[0] if pg else row[-1] for row in plan.fetchall()]
        print(f"\n{rule.kind}:\n  " + "\n  ".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=1460, help="history of check-ins, in days")
    parser.add_argument("--every", type=int, default=20, help="a check-in every N days")
    parser.add_argument("--run-days", type=int, default=40, help="drain run records, in days")
    a = parser.parse_args()
    from app import create_app
    from handlers import housekeeping
    from models.base import db
    from models.migrate import upgrade

    now = datetime.now(TZ).replace(microsecond=0)
    with _database(a.database_url) as url:
        app = create_app({"database": {"url": url}})
        pg = url.startswith("postgresql")
        with app.app_context(), db.connection_context():
            upgrade(db.obj)
            start = time.perf_counter()
            with db.atomic():
                for statement in _sql(pg, now, a):
                    db.execute_sql(statement.replace("%", "%%") if pg else statement)
            db.execute_sql("ANALYZE")
            if not pg:  # the fill's WAL is not the prune's to write back
                db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            counts = {
                t: db.execute_sql(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("study_checkin", "outbox_message", "api_session", "job_run")
            }
            print(f"filled in {time.perf_counter() - start:.1f} s: {counts}")
            settings = app.config["ZHIBU"]
            _plans(housekeeping.rules(now, settings), pg)
            held = _timed_transactions(housekeeping)
            for label, at in (("backlog", now), ("next night", now + timedelta(days=1))):
                if label == "next night":  # as autovacuum would, after the backlog's changes
                    _vacuum(pg)
                    _plans(housekeeping.rules(at, settings)[-2:], pg)
                held.clear()
                start = time.perf_counter()
                result = housekeeping.prune(at, settings)
                took = time.perf_counter() - start
                print(
                    f"\n{label}: {took:.2f} s, {len(held)} transactions, median "
                    f"{statistics.median(held) * 1000:.0f} ms, the longest "
                    f"{max(held) * 1000:.0f} ms\n  {result}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
