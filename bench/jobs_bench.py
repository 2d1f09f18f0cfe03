"""P2 benchmark: the daily jobs over 2,000 branches and 100,000 members.

    .venv/bin/python bench/jobs_bench.py                      # SQLite in a temporary folder
    .venv/bin/python bench/jobs_bench.py --repeat 3 --keep    # keep the databases afterwards
    .venv/bin/python bench/jobs_bench.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/jobs_bench.py --profile secretary_digest   # + cProfile of one job

What it does, in one invocation:

1. Generates two databases with the app's migrations and seeded random data (the same seed,
   so the same data every run for the same ``--now``): the full size (2,000 branches, 100,000
   members) and one tenth of it. Rows go in by bulk inserts of thousands at a time. Per branch:
   a console group channel (the nudge on for every second branch, the volunteer prompt for every
   third), three party groups, 50 people (a secretary and committee, mostly full members, some
   probationary, a few activists, some out of touch for months). Dues: a category and base for
   most party members from 11 months back (a few with a raise, exempt, or no category),
   quarterly payments up to a month that varies (most paid up, some two months behind, some
   stopped 4-9 months ago, some never), a few reversed payments and hardship reliefs. Meetings:
   two a month for ``--meeting-months`` (6) months (主题党日 with every party member expected;
   a committee meeting or a party-group meeting), a few skipped or cancelled, attendance for
   those held (a few members never come), plus meetings starting within the next 24 hours and
   others that ended within the last 24. Today's and this week's topics and check-ins; some
   dead outbox rows. About 2.9 million rows in 15 s (SQLite) or a minute (PostgreSQL).
2. Runs each job of ``scheduler.jobs.CRON_JOBS`` that writes outbox rows (study_prompt,
   study_nudge, study_summary, meeting_reminders, dues_reminder, secretary_digest,
   volunteer_prompt) in a fresh Python process, as the scheduler would (its own process with
   the app loaded), at ``--now`` (default: today, or the last Friday on a weekend, 20:00
   Asia/Shanghai). The child counts the SQL statements (wrapping ``db.obj.execute_sql``),
   times the job call (wall clock and this process's CPU; the part spent in
   ``handlers.outbox.enqueue_many`` apart) and reads its peak RSS (``ru_maxrss``) before and
   after; the parent reads the child's peak RSS again from ``os.wait4`` and the CPU the rest of
   the machine used meanwhile from /proc/stat (noise). Outbox rows the job wrote are
   checked against what the generator expects, hashed (the same data and ``--now`` must give
   the same hash before and after a change in the handlers) and deleted before the next run.
3. Runs each job once on the tenth-size database: its read statements must be the same number
   (constant). The outbox INSERTs (one ``executemany`` on SQLite, one statement per 10,000 rows,
   ``handlers.outbox.INSERT_CHUNK``, on PostgreSQL) are shown apart.
4. Prints a Markdown table. Exit status: 0 every target met; 1 an error or a failed check (the
   figures mean nothing); 2 a clean run that missed a target (P2: < 3 s, < 300 MB peak RSS,
   read statements the same at both sizes).

Time is the median of ``--repeat`` runs (the maximum is shown too); memory is the highest peak.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 3.0
TARGET_MB = 300.0
TZ = ZoneInfo("Asia/Shanghai")
UTCZ = ZoneInfo("UTC")
JOBS = (
    "study_prompt",
    "study_nudge",
    "study_summary",
    "meeting_reminders",
    "dues_reminder",
    "secretary_digest",
    "volunteer_prompt",
)
MEMBERS_PER_BRANCH = 50
COMMITTEE_SIZE = 5  # the first five people of a branch hold its committee roles
GROUPS_PER_BRANCH = 3
HISTORY_MONTHS = 11  # dues kept from this many months before the current one
MEETING_MONTHS = 6
CHUNK = 5000


# ---- settings and database ------------------------------------------------------------------


def write_config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(
        '[app]\nlog_level = "WARNING"\nsecret_key = "bench-jobs-signing-key-0123456789abcdef"\n',
        encoding="utf-8",
    )
    return config


def setup(db_url: str, config: Path) -> dict[str, Any]:
    """Load the app (as the scheduler process does) bound to the database; return settings."""
    for name in [n for n in os.environ if n.startswith("ZHIBU_")]:
        del os.environ[name]
    os.environ["ZHIBU_CONFIG"] = str(config)
    from app import create_app

    app = create_app({"database": {"url": db_url, "lock_timeout": 30.0}})
    return app.config["ZHIBU"]


PG_WORK_MEM = "64MB"


def pg_create(admin_url: str, name: str) -> str:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
        # The deployment recipe (README: From one machine to many) gives the role room to sort.
        cur.execute(f"ALTER DATABASE \"{name}\" SET work_mem = '{PG_WORK_MEM}'")
    conn.close()
    return f"{admin_url.rpartition('/')[0]}/{name}"


def pg_drop(admin_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


# ---- bulk inserts ---------------------------------------------------------------------------


def naive(at: datetime) -> datetime:
    """An aware datetime as the naive UTC value UTCDateTimeField stores."""
    return at.astimezone(UTCZ).replace(tzinfo=None)


class Bulk:
    """Insert rows given as tuples of database values, thousands per statement.

    Columns not given take the model's Python default (computed once). SQLite: executemany of
    the one-row INSERT; PostgreSQL: psycopg2's execute_values.
    """

    def __init__(self) -> None:
        from models.base import db, is_sqlite

        self.db = db
        self.sqlite = is_sqlite()
        self.counts: dict[str, int] = {}

    def __call__(self, model: Any, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
        meta = model._meta
        given = list(columns)
        extra, defaults = [], []
        for field in meta.sorted_fields:
            if field.name in given or field.column_name in given or field.name == "id":
                continue
            if field.default is None and field.null:
                continue
            value = field.default() if callable(field.default) else field.default
            if value is None:
                continue
            extra.append(field.column_name)
            defaults.append(field.db_value(value))
        names = [meta.fields[c].column_name if c in meta.fields else c for c in given] + extra
        cols = ", ".join(f'"{c}"' for c in names)
        table = meta.table_name
        defaults_t = tuple(defaults)
        cursor = self.db.cursor()
        total = 0
        for chunk in _chunks(rows, CHUNK):
            values = [row + defaults_t for row in chunk]
            if self.sqlite:
                marks = ", ".join("?" * len(names))
                cursor.executemany(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', values)
            else:
                from psycopg2.extras import execute_values

                execute_values(
                    cursor, f'INSERT INTO "{table}" ({cols}) VALUES %s', values, page_size=CHUNK
                )
            total += len(values)
        self.counts[table] = self.counts.get(table, 0) + total
        return total


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---- the data -------------------------------------------------------------------------------


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def generate(
    branches: int,
    now: datetime,
    settings: dict[str, Any],
    seed: int,
    meeting_months: int = MEETING_MONTHS,
) -> dict[str, Any]:
    """Fill the bound, migrated, empty database; return what the jobs must produce."""
    from handlers.dues import monthly_amount
    from models.base import db, is_sqlite
    from models.dues import DuesAssessment, DuesMonth, DuesPayment, DuesRelief
    from models.meetings import Attendance, Meeting, MeetingAttendee
    from models.org import Branch, Committee, Member, PartyGroup
    from models.outbox import BranchChannel, OutboxMessage
    from models.study import StudyCheckin, StudyTopic

    rng = random.Random(seed)
    bulk = Bulk()
    today = now.astimezone(TZ).date()
    current = today.replace(day=1)
    start_month = add_months(current, -HISTORY_MONTHS)
    long_ago = naive(now - timedelta(days=400))
    n_committees = max(1, branches // 100)
    expect: dict[str, Any] = {"branches": branches, "meeting_months": meeting_months}

    with db.atomic():
        bulk(
            Committee,
            ["id", "name", "created_at"],
            ((c + 1, f"第{c + 1}党委", long_ago) for c in range(n_committees)),
        )
        bulk(
            Branch,
            ["id", "committee", "name", "created_at"],
            (
                (b, (b - 1) % n_committees + 1, f"第{b}党支部", long_ago)
                for b in range(1, branches + 1)
            ),
        )
        bulk(
            BranchChannel,
            ["branch", "kind", "target", "mention", "nudge_enabled", "volunteer_enabled"],
            ((b, "console", "", True, b % 2 == 0, b % 3 == 0) for b in range(1, branches + 1)),
        )
        expect["volunteer_prompt"] = sum(1 for b in range(1, branches + 1) if b % 3 == 0)
        bulk(
            PartyGroup,
            ["id", "branch", "name"],
            (
                ((b - 1) * GROUPS_PER_BRANCH + g + 1, b, f"第{g + 1}党小组")
                for b in range(1, branches + 1)
                for g in range(GROUPS_PER_BRANCH)
            ),
        )

        # People. Member j of a branch: 0 secretary (deputy secretary in one branch of 100,
        # which then has no secretary), 1 organizer, 2 dues collector, 3-4 committee members.
        roles = ["secretary", "organizer", "dues_collector,propaganda", "discipline", "propaganda"]
        statuses = ["full", "probationary", "activist", "applicant", "away", "lost"]
        weights = [88, 5, 3, 2, 1, 1]
        members: list[tuple[Any, ...]] = []
        # id, branch, party group, status, joined_on of each party member
        party: list[tuple[int, int, int, str, date | None]] = []
        probation_soon = 0
        for b in range(1, branches + 1):
            for j in range(MEMBERS_PER_BRANCH):
                mid = (b - 1) * MEMBERS_PER_BRANCH + j + 1
                group = (b - 1) * GROUPS_PER_BRANCH + j % GROUPS_PER_BRANCH + 1
                if j < COMMITTEE_SIZE:
                    status = "full"
                    role = roles[j]
                    if j == 0 and b % 100 == 7:
                        role = "deputy_secretary"
                elif j in (11, 12):  # one who stopped paying, one who never comes
                    status, role = "full", ""
                else:
                    status = rng.choices(statuses, weights)[0]
                    role = ""
                joined = full_on = None
                if status == "full":
                    joined = today - timedelta(days=rng.randint(400, 40 * 365))
                    full_on = joined + timedelta(days=365)
                elif status == "probationary":
                    joined = today - timedelta(days=rng.randint(20, 360))
                    if joined + timedelta(days=365) <= today + timedelta(days=30):
                        probation_soon += 1
                roll = rng.random()
                if roll < 0.05:
                    active = None
                elif roll < 0.10:
                    active = now - timedelta(days=rng.randint(95, 300))
                else:
                    active = now - timedelta(minutes=rng.randint(5, 30 * 24 * 60))
                members.append(
                    (
                        mid,
                        f"党员{mid:06d}",
                        f"13{mid:09d}",
                        b,
                        group,
                        status,
                        role,
                        joined,
                        full_on,
                        naive(active) if active else None,
                        long_ago,
                        long_ago,
                    )
                )
                if status in ("full", "probationary"):
                    party.append((mid, b, group, status, joined))
        bulk(
            Member,
            [
                "id",
                "name",
                "phone",
                "branch",
                "party_group",
                "status",
                "roles",
                "joined_on",
                "full_on",
                "last_active_at",
                "created_at",
                "updated_at",
            ],
            members,
        )
        del members
        expect["probation_soon"] = probation_soon

        # Dues.
        assessments, reliefs, payments, months_rows = [], [], [], []
        payment_id = 0
        owing = 0
        forced_lapse = {(b - 1) * MEMBERS_PER_BRANCH + 11 for b in range(1, branches + 1)}
        for mid, _b, _group, _status, joined in party:
            if mid in forced_lapse:
                profile = "lapsed"
            else:
                profile = rng.choices(
                    ["current", "last", "two", "lapsed", "never", "unset"], [45, 30, 10, 10, 3, 2]
                )[0]
            if profile == "unset":
                continue
            cat = rng.choices(
                ["in_service", "retired", "farmer", "student", "exempt"], [60, 25, 5, 7, 3]
            )[0]
            base = fixed = None
            if cat == "in_service":
                base = rng.randint(3000, 20000) * 100
            elif cat == "retired":
                base = rng.randint(2000, 8000) * 100
            elif cat == "farmer":
                fixed = rng.choice((20, 50, 100))
            approved = "上级党委" if cat == "exempt" else ""
            assessments.append((mid, start_month, cat, base, fixed, approved, long_ago))
            amount = {start_month: monthly_amount(cat, base, fixed, settings)}
            raise_from = None
            if base is not None and rng.random() < 0.05:
                raise_from = add_months(current, -3)
                assessments.append((mid, raise_from, cat, base * 11 // 10, None, "", long_ago))
                amount[raise_from] = monthly_amount(cat, base * 11 // 10, None, settings)

            def amount_at(month: date, amount=amount, raise_from=raise_from) -> int:
                if raise_from is not None and month >= raise_from:
                    return amount[raise_from]
                return amount[start_month]

            exempt_months: set[date] = set()
            roll = rng.random()
            if roll < 0.005:
                first, last = add_months(current, -4), add_months(current, 2)
                reliefs.append((mid, "exempt", None, first, last, "上级党委", "家庭困难"))
                m = first
                while m <= last:
                    exempt_months.add(m)
                    m = add_months(m, 1)
            elif roll < 0.01:
                first, last = add_months(current, -6), add_months(current, 5)
                reliefs.append((mid, "reduce", 20, first, last, "上级党委", "家庭困难"))
            start = start_month
            if joined is not None and joined.replace(day=1) > start:
                start = joined.replace(day=1)
            through = {
                "current": current,
                "last": add_months(current, -1),
                "two": add_months(current, -2),
                "lapsed": add_months(current, -rng.randint(4, 9)),
                "never": add_months(start, -1),
            }[profile]
            paid: set[date] = set()
            if cat != "exempt":
                month = start
                chunk: list[date] = []
                while month <= through:
                    chunk.append(month)
                    if len(chunk) == 3 or month == through:
                        payment_id += 1
                        at = min(
                            local(chunk[-1], 10) + timedelta(days=4), now - timedelta(hours=1)
                        )
                        fen = [amount_at(m) for m in chunk]
                        payments.append(
                            (payment_id, mid, "dues", sum(fen), "collector", None, naive(at))
                        )
                        for m, f in zip(chunk, fen, strict=True):
                            months_rows.append((payment_id, mid, m, f, 0))
                        paid.update(chunk)
                        if rng.random() < 0.003:  # a mistake, reversed: the months are free
                            reversal = payment_id
                            payment_id += 1
                            payments.append(
                                (
                                    payment_id,
                                    mid,
                                    "reversal",
                                    -sum(fen),
                                    "collector",
                                    reversal,
                                    naive(at + timedelta(hours=2)),
                                )
                            )
                            paid.difference_update(chunk)
                        chunk = []
                    month = add_months(month, 1)
                due = set()
                month = start
                while month <= current:
                    if month not in exempt_months:
                        due.add(month)
                    month = add_months(month, 1)
                if due - paid:
                    owing += 1
        expect["owing"] = owing
        bulk(
            DuesAssessment,
            [
                "member",
                "from_month",
                "category",
                "base_fen",
                "fixed_fen",
                "approved_by",
                "recorded_at",
            ],
            assessments,
        )
        bulk(
            DuesRelief,
            ["member", "kind", "amount_fen", "from_month", "until_month", "approved_by", "reason"],
            reliefs,
        )
        bulk(
            DuesPayment,
            ["id", "member", "kind", "amount_fen", "source", "reverses", "recorded_at"],
            payments,
        )
        bulk(DuesMonth, ["payment", "member", "month", "amount_fen", "seq"], months_rows)
        del assessments, reliefs, payments, months_rows

        # Meetings: two a month for six months, then the next 24 hours' and the last 24 hours'.
        by_branch: dict[int, list[tuple[int, int]]] = {}
        for mid, b, group, _status, _joined in party:
            by_branch.setdefault(b, []).append((mid, group))
        absentees = {mid for mid, *_ in party if rng.random() < 0.04}
        absentees |= {(b - 1) * MEMBERS_PER_BRANCH + 12 for b in range(1, branches + 1)}
        meetings: list[tuple[Any, ...]] = []
        attendees: list[tuple[int, int]] = []
        attendance: list[tuple[Any, ...]] = []
        meeting_id = 0

        def add_meeting(
            b: int, kind: str, starts: datetime, hours: float, group: int | None, cancelled: bool
        ) -> None:
            nonlocal meeting_id
            meeting_id += 1
            ends = starts + timedelta(hours=hours)
            meetings.append(
                (
                    meeting_id,
                    b,
                    group,
                    kind,
                    f"{kind} {starts:%Y-%m-%d}",
                    "党员活动室",
                    naive(starts),
                    naive(ends),
                    "cancelled" if cancelled else "scheduled",
                    f"bench-{meeting_id}",
                    long_ago,
                    long_ago,
                )
            )
            people = by_branch.get(b, [])
            if kind == "committee":
                expected = [mid for mid, _g in people if (mid - 1) % MEMBERS_PER_BRANCH < 5]
            elif kind == "group":
                expected = [mid for mid, g in people if g == group]
            else:
                expected = [mid for mid, _g in people]
            attendees.extend((meeting_id, mid) for mid in expected)
            if cancelled or ends > now:
                return
            for mid in expected:
                roll = rng.random()
                if mid in absentees:
                    continue
                if roll < 0.86:
                    attendance.append((meeting_id, mid, "present", "code", "", "", naive(starts)))
                elif roll < 0.92:
                    attendance.append(
                        (meeting_id, mid, "leave", "", "出差", "approved", naive(starts))
                    )
                elif roll < 0.94:
                    attendance.append(
                        (meeting_id, mid, "leave", "", "有事", "pending", naive(starts))
                    )

        for b in range(1, branches + 1):
            for k in range(meeting_months - 1, -1, -1):
                month = add_months(current, -k)
                first = local(month.replace(day=5 + b % 20), 9)
                if (b * 7 + k) % 17 != 0:  # a few months without one
                    add_meeting(b, "theme_day", first, 2, None, False)
                second = local(month.replace(day=12 + b % 15), 14, 30)
                if k % 2 == 0:
                    add_meeting(b, "committee", second, 1.5, None, (b + k) % 50 == 0)
                else:
                    group = (b - 1) * GROUPS_PER_BRANCH + k % GROUPS_PER_BRANCH + 1
                    add_meeting(b, "group", second, 1.5, group, (b + k) % 50 == 0)
            if b % 10 == 0:  # starts within the next 24 hours
                add_meeting(b, "lesson", now + timedelta(hours=1 + b % 23), 2, None, False)
            if b % 20 == 5:  # ended within the last 24 hours
                add_meeting(b, "general", now - timedelta(hours=2 + b % 20), 1.5, None, False)
        bulk(
            Meeting,
            [
                "id",
                "branch",
                "party_group",
                "kind",
                "title",
                "place",
                "starts_at",
                "ends_at",
                "status",
                "qr_scene",
                "created_at",
                "updated_at",
            ],
            meetings,
        )
        # Meetings of the current month may also fall in the next or the last 24 hours:
        # count them from the rows, as the jobs see them.
        window = (naive(now), naive(now + timedelta(hours=24)))
        before = (naive(now - timedelta(hours=24)), naive(now))
        reminders = sum(
            1 for m in meetings if m[8] == "scheduled" and window[0] < m[6] <= window[1]
        )
        summaries = sum(
            1 for m in meetings if m[8] == "scheduled" and before[0] < m[7] <= before[1]
        )
        expect["meetings"] = len(meetings)
        expect["meeting_reminders"] = reminders
        expect["meeting_summaries"] = summaries
        meetings.clear()
        bulk(MeetingAttendee, ["meeting", "member"], attendees)
        bulk(
            Attendance,
            ["meeting", "member", "status", "method", "leave_reason", "leave_status", "at"],
            attendance,
        )
        attendees.clear()
        attendance.clear()

        # Study: a topic for everyone each day of this week, a committee's own for today (every
        # second committee), a branch's own for today (every tenth branch); check-ins.
        monday = today - timedelta(days=today.weekday())
        topics, topic_id, global_topic = [], 0, {}
        day = monday
        while day <= today:
            topic_id += 1
            global_topic[day] = topic_id
            topics.append((topic_id, day, f"{day:%m月%d日}学习：党章第{day.day}条", None, None))
            day += timedelta(days=1)
        for c in range(1, n_committees + 1, 2):
            topic_id += 1
            topics.append((topic_id, today, f"第{c}党委专题学习", c, None))
        for b in range(10, branches + 1, 10):
            topic_id += 1
            topics.append((topic_id, today, f"第{b}党支部专题学习", None, b))
        bulk(
            StudyTopic,
            ["id", "day", "title", "committee", "branch"],
            ((t[0], t[1], t[2], t[3], t[4]) for t in topics),
        )
        checkins = []
        nudges = 0
        for mid, b, _group, _status, _joined in party:
            day = monday
            while day <= today:
                if rng.random() < (0.5 if day == today else 0.6):
                    at = naive(local(day, 12))
                    tid = global_topic[day]
                    checkins.append((mid, day, tid, tid, "学习了今天的内容，很有收获。", at, at))
                elif day == today and b % 2 == 0:
                    nudges += 1
                day += timedelta(days=1)
        expect["study_nudge"] = nudges
        bulk(
            StudyCheckin,
            ["member", "day", "topic", "topic_key", "reflection", "created_at", "updated_at"],
            checkins,
        )
        del checkins

        # A few messages that could not be delivered (the digest mentions them).
        dead = []
        for b in range(1, branches + 1, 40):
            for n in range(1 + b % 3):
                dead.append(
                    (
                        "study_prompt",
                        "branch",
                        b,
                        f"dead-{n}",
                        b,
                        "console",
                        '{"text": "旧消息"}',
                        "dead",
                        6,
                        naive(now - timedelta(days=2)),
                        "发送失败",
                    )
                )
        bulk(
            OutboxMessage,
            [
                "kind",
                "target_type",
                "target_id",
                "period",
                "branch",
                "channel",
                "payload",
                "status",
                "attempts",
                "next_attempt_at",
                "last_error",
            ],
            dead,
        )
    if not is_sqlite():  # explicit ids were given: move the sequences past them
        for model in (Committee, Branch, PartyGroup, Member, DuesPayment, Meeting, StudyTopic):
            table = model._meta.table_name
            db.execute_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT MAX(id) FROM "{table}"))'
            )
        db.execute_sql("ANALYZE")
    else:
        db.execute_sql("ANALYZE")
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    expect["rows"] = bulk.counts
    expect["party_members"] = len(party)
    # Every branch has a member lapsed for 4+ months (member 11): every branch gets a digest
    # and a dues reminder; a study prompt and a summary go to every branch.
    expect["study_prompt"] = branches if today.weekday() < 5 else 0
    expect["study_summary"] = branches
    expect["dues_reminder"] = branches + owing
    expect["secretary_digest"] = branches
    return expect


def expected_rows(job: str, expect: dict[str, Any]) -> dict[str, int]:
    """The outbox rows per kind a job must write on the generated data."""
    return {
        "study_prompt": {"study_prompt": expect["study_prompt"]},
        "study_nudge": {"study_nudge": expect["study_nudge"]},
        "study_summary": {"study_summary": expect["study_summary"]},
        "meeting_reminders": {
            "meeting_reminder": expect["meeting_reminders"],
            "meeting_summary": expect["meeting_summaries"],
        },
        "dues_reminder": {"dues_reminder": expect["branches"], "dues_personal": expect["owing"]},
        "secretary_digest": {"secretary_digest": expect["secretary_digest"]},
        "volunteer_prompt": {"volunteer_prompt": expect["volunteer_prompt"]},
    }[job]


# ---- one job in a child process -------------------------------------------------------------


def child(job: str, db_url: str, config: Path, now: datetime, profile: bool) -> int:
    """Run one job as the scheduler would and print its figures as JSON."""
    settings = setup(db_url, config)
    import scheduler.jobs as jobs_module
    from handlers.outbox import INSERT_CHUNK
    from models.base import db, is_sqlite
    from models.outbox import OutboxMessage
    from scheduler.jobs import CRON_JOBS

    func = CRON_JOBS[job]
    statements: list[str] = []
    enqueue_seconds = 0.0
    enqueue = jobs_module.enqueue_many

    def timed_enqueue(rows: Any, **kwargs: Any) -> Any:
        nonlocal enqueue_seconds
        rows = list(rows)
        began = time.perf_counter()
        try:
            return enqueue(rows, **kwargs)
        finally:
            enqueue_seconds += time.perf_counter() - began
            # enqueue_many binds one rendered INSERT through the DB-API cursor, not execute_sql:
            # one executemany on SQLite, one statement per INSERT_CHUNK rows on PostgreSQL.
            if rows:
                pages = 1 if is_sqlite() else -(-len(rows) // INSERT_CHUNK)
                statements.extend(['INSERT INTO "outbox_message" (enqueue_many)'] * pages)

    jobs_module.enqueue_many = timed_enqueue  # the job's own reference (imported by name)
    with db.connection_context():
        db.execute_sql("SELECT 1")  # the connection and its PRAGMAs are not the job's
        original = db.obj.execute_sql

        def counting(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            statements.append(sql)
            return original(sql, params, *args, **kwargs)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        db.obj.execute_sql = counting
        try:
            if profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                began, cpu = time.perf_counter(), time.process_time()
                prof.enable()
                detail = func(settings, now)
                prof.disable()
                seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
                stats = pstats.Stats(prof, stream=sys.stderr)
                stats.sort_stats("cumulative").print_stats(35)
                stats.sort_stats("tottime").print_stats(25)
            else:
                began, cpu = time.perf_counter(), time.process_time()
                detail = func(settings, now)
                seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        finally:
            del db.obj.execute_sql
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # What the job wrote: counted, hashed, then removed for the next run.
        digest = hashlib.sha256()
        kinds: dict[str, int] = {}
        query = (
            OutboxMessage.select(
                OutboxMessage.kind,
                OutboxMessage.target_type,
                OutboxMessage.target_id,
                OutboxMessage.period,
                OutboxMessage.branch,
                OutboxMessage.payload,
            )
            .where(OutboxMessage.status == "pending")
            .order_by(
                OutboxMessage.kind,
                OutboxMessage.target_type,
                OutboxMessage.target_id,
                OutboxMessage.period,
            )
            .tuples()
        )
        for row in query.iterator():
            kinds[row[0]] = kinds.get(row[0], 0) + 1
            digest.update(repr(row).encode("utf-8"))
        OutboxMessage.delete().where(OutboxMessage.status == "pending").execute()
    # SQLite says INSERT OR IGNORE INTO, PostgreSQL INSERT INTO … ON CONFLICT DO NOTHING.
    inserts = [
        s
        for s in statements
        if s.lstrip().upper().startswith("INSERT") and '"outbox_message"' in s.split("(", 1)[0]
    ]
    other_writes = [
        s
        for s in statements
        if s.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
        and s not in inserts
    ]
    print(
        json.dumps(
            {
                "job": job,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "enqueue_seconds": enqueue_seconds,
                "statements": len(statements),
                "outbox_inserts": len(inserts),
                "other_writes": len(other_writes),
                "reads": len(statements) - len(inserts),
                "rss_before_kb": rss_before,
                "rss_after_kb": rss_after,
                "kinds": kinds,
                "hash": digest.hexdigest()[:16],
                "detail": str(detail),
            }
        ),
        flush=True,
    )
    return 0


def run_child(
    job: str, db_url: str, config: Path, now: datetime, profile: bool = False
) -> dict[str, Any]:
    """Run the child for one job; add its peak RSS as seen by the parent (wait4)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", job, "--database-url"]
    cmd += [db_url, "--config", str(config), "--now", now.isoformat()]
    if profile:
        cmd.append("--profile-child")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    busy, began = machine_busy(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    busy, elapsed = machine_busy() - busy, time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{job}: child exited with {proc.returncode}\n{out}")
    result = json.loads(out.strip().splitlines()[-1])
    result["rss_peak_kb"] = usage.ru_maxrss
    own = usage.ru_utime + usage.ru_stime
    # CPU the rest of the machine used meanwhile, in cores (PostgreSQL's own work included).
    result["others_cores"] = max(0.0, busy - own) / elapsed if elapsed else 0.0
    return result


# ---- the parent -----------------------------------------------------------------------------


def default_now() -> datetime:
    """Today at 20:00 in Asia/Shanghai, or last Friday's on a weekend (the prompt needs a
    workday)."""
    today = datetime.now(TZ).date()
    while today.weekday() >= 5:
        today -= timedelta(days=1)
    return local(today, 20)


def build(
    db_url: str, config: Path, branches: int, now: datetime, seed: int, meeting_months: int
) -> int:
    """Child: migrate and fill one database; print what the jobs must produce as JSON."""
    settings = setup(db_url, config)
    from models.base import db
    from models.migrate import upgrade

    with db.connection_context():
        upgrade(db.obj)
        began = time.perf_counter()
        expect = generate(branches, now, settings, seed, meeting_months)
        seconds = time.perf_counter() - began
    print(json.dumps({"expect": expect, "seconds": seconds}), flush=True)
    return 0


def run_generate(
    db_url: str, config: Path, branches: int, now: datetime, seed: int, meeting_months: int
) -> tuple[dict[str, Any], float]:
    """Generate in a child process: the parent stays small, and the job processes it starts
    inherit no large peak RSS (Linux keeps a process's high-water mark across fork and exec)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--generate", str(branches)]
    cmd += ["--database-url", db_url, "--config", str(config), "--now", now.isoformat()]
    cmd += ["--seed", str(seed), "--meeting-months", str(meeting_months)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    out = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["expect"], result["seconds"]


def source_version() -> str:
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


def machine_busy() -> float:
    """CPU seconds all processors have been busy, from /proc/stat (0 where there is none)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def mb(kb: float) -> float:
    return kb / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=2000)
    parser.add_argument("--small-factor", type=int, default=10, help="the small size is 1/N")
    parser.add_argument("--repeat", type=int, default=3, help="runs per job at the full size")
    parser.add_argument("--now", help="ISO time the jobs run at (default: today 20:00 +08:00)")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument(
        "--meeting-months", type=int, default=MEETING_MONTHS, help="months of meetings held"
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://…/ADMIN_DB: create (and drop) fresh databases there instead of SQLite",
    )
    parser.add_argument("--jobs", default=",".join(JOBS), help="comma-separated job ids")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder / dbs")
    parser.add_argument("--reuse", metavar="DIR", help="reuse the SQLite databases of a --keep")
    parser.add_argument("--profile", metavar="JOB", help="also cProfile one job (to stderr)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now) if args.now else default_now()
    if now.tzinfo is None:
        now = now.replace(tzinfo=TZ)
    if args.child:
        return child(args.child, args.database_url, Path(args.config), now, args.profile_child)
    if args.generate:
        return build(
            args.database_url,
            Path(args.config),
            args.generate,
            now,
            args.seed,
            args.meeting_months,
        )

    jobs = [j for j in args.jobs.split(",") if j]
    unknown = [j for j in jobs if j not in JOBS]
    if unknown:
        parser.error(f"unknown job(s) {unknown}; choose from {', '.join(JOBS)}")
    sizes = {"full": args.branches, "small": max(1, args.branches // args.small_factor)}
    folder = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="zhibu-jobs-"))
    config = write_config(folder)
    pg_names: list[str] = []
    urls: dict[str, str] = {}
    expects: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    results: dict[str, dict[str, Any]] = {}
    try:
        for size, branches in sizes.items():
            facts = folder / f"{size}.json"
            if args.reuse and facts.exists():
                saved = json.loads(facts.read_text())
                urls[size], expects[size] = saved["url"], saved["expect"]
                made = (saved["now"], saved["branches"], expects[size].get("meeting_months"))
                if made != (now.isoformat(), branches, args.meeting_months):
                    parser.error(f"--reuse {folder}: made for now, branches, meeting months = "
                                 f"{made}; pass the same options")  # fmt: skip
                print(f"== {size}: reusing {urls[size]}", flush=True)
                continue
            if args.database_url:
                name = f"zhibu_jobs_bench_{size}_{os.getpid()}"
                urls[size] = pg_create(args.database_url, name)
                pg_names.append(name)
            else:
                urls[size] = f"sqlite:///{folder / f'{size}.db'}"
            print(
                f"== generating {size}: {branches} branches, "
                f"{branches * MEMBERS_PER_BRANCH} people …",
                flush=True,
            )
            expects[size], seconds = run_generate(
                urls[size], config, branches, now, args.seed, args.meeting_months
            )
            rows = expects[size]["rows"]
            print(
                f"   {sum(rows.values()):,} rows in {seconds:.1f} s: "
                + ", ".join(f"{t} {n:,}" for t, n in rows.items()),
                flush=True,
            )
            facts.write_text(
                json.dumps(
                    {
                        "url": urls[size],
                        "now": now.isoformat(),
                        "branches": branches,
                        "expect": expects[size],
                    }
                )
            )

        for job in jobs:
            runs = []
            for n in range(args.repeat):
                try:
                    runs.append(run_child(job, urls["full"], config, now))
                except (RuntimeError, ValueError) as exc:
                    errors.append(str(exc))
                    break
                r = runs[-1]
                print(
                    f"   {job} run {n + 1}: {r['seconds']:.3f} s (CPU {r['cpu_seconds']:.3f} s), "
                    f"{r['statements']} statements, "
                    f"peak {mb(r['rss_peak_kb']):.0f} MB, {r['kinds']}",
                    flush=True,
                )
            try:
                small = run_child(job, urls["small"], config, now)
            except (RuntimeError, ValueError) as exc:
                errors.append(str(exc))
                small = None
            if not runs or small is None:
                continue
            results[job] = {"runs": runs, "small": small}
            for size, result in (("full", runs[0]), ("small", small)):
                want = expected_rows(job, expects[size])
                if result["kinds"] != {k: v for k, v in want.items() if v}:
                    errors.append(f"{job} ({size}): wrote {result['kinds']}, expected {want}")
            if len({r["hash"] for r in runs}) != 1:
                errors.append(f"{job}: different rows from run to run {[r['hash'] for r in runs]}")
            if any(r["other_writes"] for r in runs):
                errors.append(f"{job}: writes other than outbox inserts")
        if args.profile:
            print(f"== cProfile of {args.profile} (full size), on stderr", flush=True)
            run_child(args.profile, urls["full"], config, now, profile=True)
    finally:
        for name in pg_names:
            if not args.keep:
                pg_drop(args.database_url, name)
        if args.keep or args.reuse:
            print(f"== kept {folder}" + (f" and databases {pg_names}" if pg_names else ""))
        else:
            for path in sorted(folder.glob("*")):
                path.unlink()
            folder.rmdir()

    missed = report(results, expects, now, args, jobs)
    for error in errors:
        print(f"  [FAILED] {error}")
    if errors:
        return 1
    return 2 if missed else 0


def report(
    results: dict[str, dict[str, Any]],
    expects: dict[str, dict[str, Any]],
    now: datetime,
    args: argparse.Namespace,
    jobs: list[str],
) -> list[str]:
    """Print the Markdown table; return the targets missed."""
    database = "PostgreSQL" if args.database_url else "SQLite"
    full = expects["full"]
    runs_all = [r for job in results.values() for r in job["runs"]]
    others = statistics.mean(r["others_cores"] for r in runs_all) if runs_all else 0.0
    print()
    print(
        f"== P2 daily jobs: {full['branches']:,} branches, "
        f"{full['branches'] * MEMBERS_PER_BRANCH:,} people ({full['party_members']:,} party "
        f"members), {full['meeting_months']} months of meetings, "
        f"{sum(full['rows'].values()):,} rows; {database}; now {now.isoformat()}"
    )
    print(
        f"== {source_version()}, Python {platform.python_version()}, {os.cpu_count()} cores "
        f"({cpu_model()}); other processes used {others:.2f} cores on average during the "
        f"runs (load average at the end {load_average()}); median of {args.repeat} runs"
    )
    print()
    print(
        "| job | outbox rows | reads (full / 1/10) | outbox INSERTs | time median (max) "
        "| CPU | of which enqueue_many | peak RSS (job Δ) | met |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    missed = []
    for job in jobs:
        if job not in results:
            print(f"| {job} | error | | | | | | | **no** |")
            missed.append(job)
            continue
        runs, small = results[job]["runs"], results[job]["small"]
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu_seconds"] for r in runs)
        enqueue = statistics.median(r["enqueue_seconds"] for r in runs)
        worst = max(r["seconds"] for r in runs)
        peak = max(r["rss_peak_kb"] for r in runs)
        delta = max(r["rss_after_kb"] - r["rss_before_kb"] for r in runs)
        rows = sum(runs[0]["kinds"].values())
        reads = {r["reads"] for r in runs}
        problems = []
        if seconds >= TARGET_SECONDS:
            problems.append("time")
        if mb(peak) >= TARGET_MB:
            problems.append("memory")
        if reads != {small["reads"]}:
            problems.append("queries")
        if problems:
            missed.append(f"{job}: {', '.join(problems)}")
        reads_text = "/".join(str(n) for n in sorted(reads))
        print(
            f"| {job} | {rows:,} | {reads_text} / {small['reads']} "
            f"| {runs[0]['outbox_inserts']} | {seconds:.2f} s ({worst:.2f}) | {cpu:.2f} s "
            f"| {enqueue:.2f} s | {mb(peak):.0f} MB ({mb(delta):+.0f}) "
            f"| {'yes' if not problems else '**no**: ' + ', '.join(problems)} |"
        )
    print(
        "| target | | the same at both sizes | 1 (SQLite), 1 per 10,000 rows (PostgreSQL) "
        f"| < {TARGET_SECONDS:g} s "
        f"| | | < {TARGET_MB:g} MB | |"
    )
    print()
    for job in jobs:
        if job in results:
            print(f"   {job}: rows hash {results[job]['runs'][0]['hash']}")
    return missed


if __name__ == "__main__":
    sys.exit(main())
