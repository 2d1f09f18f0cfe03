"""The second baseline for bench/callback_bench.py: a minimal correct check-in handler.

What the app must do for one study check-in, written as directly as possible, on the same
SQLite schema (the bench hands it a copy of the app's seeded database):

- check the timestamp window, verify msg_signature and decrypt (wechatpy);
- one SQLite WAL transaction (stdlib sqlite3, BEGIN IMMEDIATE, one connection per thread):
  the stored reply for the MsgId (a retry gets it back, from any worker), the member by openid,
  today's topic, the check-in insert (unique member + day + topic; a repeat updates the
  reflection), the pending study nudge cancelled, the member's last activity (at most hourly),
  the week's days and streak for the reply, and the dedupe row with the reply;
- an encrypted reply.

Writers of both processes queue as the app's do (a thread lock, then flock on a file beside
the database) instead of sleeping in SQLite's busy handler. No peewee, no zhibu code. Served
under the same gunicorn settings as the app:

    BARE_TOKEN=... BARE_AES_KEY=... BARE_APP_ID=... MINIMAL_DB=/path/to/copy.db \
        .venv/bin/gunicorn --chdir bench -w 2 -k gthread --threads 4 'minimal_app:create_app()'
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bare_app import DEFAULT_AES_KEY, DEFAULT_APP_ID, DEFAULT_TOKEN
from flask import Flask, Response, abort, request
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto

TZ = ZoneInfo("Asia/Shanghai")
TIMESTAMP_WINDOW = 300  # seconds, as the app's wechat.timestamp_window default
LOCK_TIMEOUT = 2.0  # seconds, as the app's database.lock_timeout default
MAX_CHARS = 500  # study.reflection_max_chars
STREAK_LOOKBACK_DAYS = 400
WORDS = ("学习", "打卡")

MEMBER_SQL = (
    "SELECT m.id, m.branch_id, b.committee_id, m.last_active_at FROM wechat_binding w "
    "JOIN member m ON m.id = w.member_id JOIN branch b ON b.id = m.branch_id "
    "WHERE w.openid = ?"
)
TOPIC_SQL = (
    "SELECT id, title FROM study_topic WHERE day = ? AND (branch_id = ? "
    "OR (branch_id IS NULL AND committee_id = ?) OR (branch_id IS NULL AND committee_id IS NULL))"
    " ORDER BY branch_id IS NULL, committee_id IS NULL, id DESC LIMIT 1"
)
CHECKIN_SQL = (
    "INSERT INTO study_checkin (member_id, day, topic_id, topic_key, reflection, source, "
    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'bot', ?, ?) "
    "ON CONFLICT (member_id, day, topic_key) DO NOTHING"
)
REFLECTION_SQL = (
    "UPDATE study_checkin SET reflection = ?, updated_at = ? "
    "WHERE member_id = ? AND day = ? AND topic_key = ? AND reflection != ?"
)
NUDGE_SQL = (
    "UPDATE outbox_message SET status = 'skipped', last_error = '已打卡，无需提醒' "
    "WHERE kind = 'study_nudge' AND target_type = 'member' AND target_id = ? AND period = ? "
    "AND status = 'pending'"
)
TOUCH_SQL = (
    "UPDATE member SET last_active_at = ? WHERE id = ? "
    "AND (last_active_at IS NULL OR last_active_at < ?)"
)
DAYS_SQL = "SELECT DISTINCT day FROM study_checkin WHERE member_id = ? AND day > ? AND day <= ?"
STORED_SQL = "SELECT reply FROM inbound_message WHERE dedupe_key = ?"
DEDUPE_SQL = (
    "INSERT INTO inbound_message (dedupe_key, openid, reply, created_at) VALUES (?, ?, ?, ?)"
)


def db_time(at: datetime) -> str:
    """An aware datetime as the app stores it: naive UTC text."""
    return str(at.astimezone(UTC).replace(tzinfo=None))


class Store:
    """One sqlite3 connection per thread; writers queue on a thread lock and a file lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.local = threading.local()
        self.lock = threading.Lock()
        self.fd: int | None = None
        self.pid = 0

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = wal")
            conn.execute("PRAGMA synchronous = normal")
            conn.execute("PRAGMA foreign_keys = 1")
            conn.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT * 1000)}")
            self.local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        if not self.lock.acquire(timeout=LOCK_TIMEOUT):
            raise sqlite3.OperationalError("write queue timeout")
        try:
            if self.fd is None or self.pid != os.getpid():  # opened after the fork
                self.fd = os.open(self.path + ".writelock", os.O_RDWR | os.O_CREAT, 0o600)
                self.pid = os.getpid()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                conn = self.conn()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.lock.release()


def split_command(text: str) -> str | None:
    """The reflection after 学习/打卡, or None for any other text."""
    text = text.strip()
    for word in WORDS:
        if text.startswith(word):
            return text[len(word) :].strip()
    return None


def check_in(conn: sqlite3.Connection, openid: str, reflection: str, now: datetime) -> str:
    """The check-in inside the caller's transaction; returns the reply text."""
    member = conn.execute(MEMBER_SQL, (openid,)).fetchone()
    if member is None:
        return "您还没有绑定党员身份，请先发送“绑定 绑定码”。"
    member_id, branch_id, committee_id, last_active = member
    if len(reflection) > MAX_CHARS:
        return f"心得最多 {MAX_CHARS} 字，您这次写了 {len(reflection)} 字。请精简后重新发送。"
    day = now.astimezone(TZ).date()
    topic = conn.execute(TOPIC_SQL, (day.isoformat(), branch_id, committee_id)).fetchone()
    topic_id, title = topic if topic else (None, "")
    stamp = db_time(now)
    created = (
        conn.execute(
            CHECKIN_SQL,
            (member_id, day.isoformat(), topic_id, topic_id or 0, reflection, stamp, stamp),
        ).rowcount
        == 1
    )
    if created:
        conn.execute(NUDGE_SQL, (member_id, day.isoformat()))
    elif reflection:
        conn.execute(
            REFLECTION_SQL,
            (reflection, stamp, member_id, day.isoformat(), topic_id or 0, reflection),
        )
    hour_ago = db_time(now - timedelta(hours=1))
    if last_active is None or last_active < hour_ago:
        conn.execute(TOUCH_SQL, (stamp, member_id, hour_ago))
    lookback = (day - timedelta(days=STREAK_LOOKBACK_DAYS)).isoformat()
    days = {
        date.fromisoformat(d)
        for (d,) in conn.execute(DAYS_SQL, (member_id, lookback, day.isoformat()))
    }
    week_start = day - timedelta(days=day.weekday())
    in_week = sum(week_start + timedelta(days=i) in days for i in range(7))
    streak, cursor = 0, day if day in days else day - timedelta(days=1)
    while cursor in days:
        streak += 1
        cursor -= timedelta(days=1)
    head = f"今日主题：《{title}》\n" if title else ""
    if created:
        head = "学习打卡成功！\n" + head
        head += f"心得已记录（{len(reflection)} 字）。\n" if reflection else ""
    elif reflection:
        head = "您今天已经打过卡了，已用这次的内容更新学习心得。\n" + head
    else:
        head = "您今天已经打过卡了，无需重复打卡。\n" + head
    return head + f"本周已学习 {in_week} 天，连续学习 {streak} 天。"


def handle(store: Store, msg: Any) -> str:
    """One transaction: the stored reply for a retry, else the check-in and its dedupe row."""
    data = msg._data
    openid = data["FromUserName"]
    if data.get("MsgId"):
        key = f"msg:{data['MsgId']}"
    else:  # events: sender, time, event and key, as the app keys them
        key = f"evt:{openid}:{data.get('CreateTime')}:{data.get('Event')}:{data.get('EventKey')}"
    now = datetime.now(UTC)
    with store.write() as conn:
        stored = conn.execute(STORED_SQL, (key,)).fetchone()
        if stored is not None:
            return stored[0]
        reflection = split_command(msg.content or "") if msg.type == "text" else None
        if reflection is None:
            reply = "发送“学习 心得”即可学习打卡。"
        else:
            reply = check_in(conn, openid, reflection, now)
        conn.execute(DEDUPE_SQL, (key, openid, reply, db_time(now)))
    return reply


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 65536
    crypto = WeChatCrypto(
        os.environ.get("BARE_TOKEN", DEFAULT_TOKEN),
        os.environ.get("BARE_AES_KEY", DEFAULT_AES_KEY),
        os.environ.get("BARE_APP_ID", DEFAULT_APP_ID),
    )
    store = Store(os.environ["MINIMAL_DB"])

    @app.post("/wechat")
    def callback() -> Response:
        args = request.args
        timestamp = args.get("timestamp", "")
        nonce = args.get("nonce", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TIMESTAMP_WINDOW:
            abort(403)
        try:
            xml = crypto.decrypt_message(
                request.get_data(), args.get("msg_signature", ""), timestamp, nonce
            )
            msg = parse_message(xml)
        except Exception:  # noqa: BLE001 - a bad signature or body is a 403, never a 500
            abort(403)
        reply = create_reply(handle(store, msg), msg).render()
        encrypted = crypto.encrypt_message(reply, nonce, timestamp)
        return Response(encrypted, mimetype="application/xml")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
