"""The outbox: jobs enqueue messages once per key; the drain claims, paces and records them.

Jobs never send. They call ``enqueue`` / ``enqueue_many``; the unique index on
(kind, target_type, target_id, period) makes a second production of the same reminder a no-op.
The drain (``bot.channels.drain``) then works through the rows with the functions here:

    claim -> resolve_addresses -> begin_part -> (the channel sends) -> record_part / mark_sent
                                               \\-> mark_failed | defer | skip

Every state change is one short write transaction, and every record after a send is
conditional on the claim (``claimed_at``) still being ours, so:

- a crash after ``claim`` leaves the row ``sending``; once ``claim_timeout_seconds`` pass, the
  next drain takes it over and sends it (nothing lost, nothing sent twice);
- a crash between the channel's answer and the record sends that part again, once, when the
  row is taken over (WeChat has no idempotency key for these messages);
- a crash after the record loses nothing and repeats nothing.

Delivery is therefore at least once. Besides such a crash, a duplicate needs a read timeout
after WeChat accepted the message (its answer lost, the send retried); the read timeout
(``read_timeout_seconds``) outlasts WeChat's stalls, and the claim outlasts the longest send
(core.config checks ``claim_timeout_seconds``), so no other drain takes over a row that is
still waiting for its answer.

Payload (a JSON object) fields the channels read:

- ``text`` (required): the message, plain text (or markdown with ``format``);
- ``title``: a short title, used by template/subscribe messages and the secretary's notices;
- ``format``: ``"text"`` (default) or ``"markdown"`` (group robots and WeCom apps);
- ``mention_member_ids``: members to @-mention in a group (by WeCom userid, else by mobile);
- ``mention_all``: @all in a group robot text;
- ``url``: a link for template messages; ``page``: a mini-program page for subscribe messages;
- ``template_data`` / ``subscribe_data``: explicit template data, overriding the defaults.

No Flask and no wechatpy here: plain arguments in, rows and plain results out.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from peewee import JOIN, fn

from core.clock import UTC
from models.base import db, is_sqlite, write_tx
from models.org import Member
from models.outbox import (
    DEAD_NOTICE_KIND,
    GROUP_KINDS,
    LAST_ERROR_MAX,
    TARGET_TYPES,
    BranchChannel,
    MemberContact,
    OutboxMessage,
    SubscribeCredit,
    mask_target,
    secret_digest,
)
from models.wechat import RateEvent, WechatBinding

log = logging.getLogger(__name__)

Settings = Mapping[str, Mapping[str, Any]]

# Rows per statement in enqueue_many on PostgreSQL: under its 65,535 bound parameters at 15
# columns a row.
INSERT_CHUNK = 2000
# Who hears about a dead row: the first branch member holding one of these roles, in order.
NOTICE_ROLES = ("secretary", "deputy_secretary", "organizer")
# Names of message kinds for the secretary's notices (a payload "title" wins).
KIND_LABELS: dict[str, str] = {
    "study_prompt": "学习提醒",
    "study_nudge": "学习督促",
    "study_summary": "每周学习小结",
    "meeting_reminder": "会议提醒",
    "meeting_summary": "会议情况",
    "dues_reminder": "党费提醒",
    "dues_personal": "党费个人提醒",
    "secretary_digest": "书记待办",
    "volunteer_prompt": "志愿服务提醒",
    DEAD_NOTICE_KIND: "消息未送达通知",
}
NO_PERSONAL_CHANNEL = (
    "该党员没有可用的个人通知渠道（未登记企业微信账号、未关注公众号、也没有小程序订阅额度）"
)
NO_GROUP_CHANNEL = "该支部没有设置群通知渠道（flask --app app channels set）"
NO_CREDIT = "该党员的小程序订阅消息额度已用完"


# SQLite's busy handler sleeps in steps of up to 100 ms while another connection writes; the
# drain's sender threads would spend most of their time there. They queue on this lock instead,
# which wakes the next writer at once. (Other processes still meet at SQLite's lock.)
_SQLITE_WRITES = threading.RLock()


@contextmanager
def _write() -> Iterator[None]:
    """Open a short write transaction (IMMEDIATE on SQLite, after this process's lock).

    Inside a caller's transaction (a job enqueueing inside its own ``write_tx``) it is a
    savepoint and takes no lock: that connection holds SQLite's write lock already, and waiting
    for our lock while holding it could stall a drainer thread waiting for SQLite.
    """
    if is_sqlite() and not db.in_transaction():
        with _SQLITE_WRITES, write_tx():
            yield
    else:
        with write_tx():
            yield


# Rendering a peewee query to SQL costs more CPU than SQLite takes to run it, and the drain
# runs a few query shapes for every message (P3: thousands a second). These shapes are rendered
# once per database type and then only bound to new values.
_PREPARED: dict[tuple[str, str], tuple[str, list[tuple[str | None, Any]]]] = {}
_PROBE_EPOCH = datetime(2001, 2, 3, tzinfo=UTC)


def _bindable(value: Any) -> Any:
    """Convert a value the way peewee binds it (aware datetimes become naive UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _prepare(
    name: str, build: Callable[[Mapping[str, Any]], Any], values: Mapping[str, Any]
) -> tuple[str, list[tuple[str | None, Any]]]:
    """Return the cached SQL of ``build(values)`` and where each value goes in its parameters.

    ``build`` is called once per database type, with unique probe values, to learn the SQL and
    which parameter is which value (the others are constants of the query). Values are str,
    int or aware datetimes.
    """
    key = (name, type(db.obj).__name__)
    prepared = _PREPARED.get(key)
    if prepared is None:
        probes: dict[str, Any] = {}
        for index, (field_name, value) in enumerate(values.items()):
            if isinstance(value, datetime):
                probes[field_name] = _PROBE_EPOCH + timedelta(seconds=index)
            elif isinstance(value, int) and not isinstance(value, bool):
                probes[field_name] = 1_000_000_007 + index
            else:
                probes[field_name] = f"\x01probe{index}"
        sql, params = db.obj.get_sql_context().sql(build(probes)).query()
        names = {repr(_bindable(v)): n for n, v in probes.items()}
        slots = [(names.get(repr(p)), p) for p in params]
        if {n for n, _ in slots if n} != set(values):
            raise RuntimeError(f"query {name}: cannot place every value in its SQL")
        prepared = _PREPARED[key] = (sql, slots)
    return prepared


def _bind(slots: list[tuple[str | None, Any]], values: Mapping[str, Any]) -> list[Any]:
    return [_bindable(values[n]) if n else p for n, p in slots]


def _run(name: str, build: Callable[[Mapping[str, Any]], Any], values: Mapping[str, Any]) -> Any:
    """Execute the query ``build(values)`` through its cached SQL; return the cursor."""
    sql, slots = _prepare(name, build, values)
    return db.execute_sql(sql, _bind(slots, values))


# ----- enqueue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One message a job wants sent; (kind, target_type, target_id, period) is its key."""

    kind: str
    target_type: str
    target_id: int
    period: str
    payload: Mapping[str, Any]
    branch_id: int


# The columns of an outbox row that vary by message, in _checked's order.
_VARYING = ("kind", "target_type", "target_id", "period", "payload", "branch")
# One encoder for every payload: json.dumps builds a new one per call when given options.
_PAYLOAD_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
_json_string = json.encoder.encode_basestring  # what that encoder writes a string with


def _payload_json(payload: Mapping[str, Any]) -> str:
    """The payload as ``json.dumps(dict(payload), ensure_ascii=False, sort_keys=True)`` writes
    it, character for character. Most payloads are a flat dict of strings (text, title): that
    object is written here directly, keys sorted, with the encoder's own string escaping, a
    few times faster than the encoder for the tens of thousands of rows of a daily job."""
    if type(payload) is dict:
        parts = []
        for key, value in sorted(payload.items()):  # raises where json.dumps would
            if type(key) is not str or type(value) is not str:
                break
            parts.append(f"{_json_string(key)}: {_json_string(value)}")
        else:
            return "{" + ", ".join(parts) + "}"
    return _PAYLOAD_JSON(dict(payload))


def _checked(item: Outgoing | Mapping[str, Any]) -> tuple[str, str, int, str, str, int]:
    """Check one outgoing message and return the values of its row that vary (_VARYING)."""
    if isinstance(item, Outgoing):
        kind, target_type, target_id = item.kind, item.target_type, item.target_id
        period, payload, branch_id = item.period, item.payload, item.branch_id
    else:
        kind, target_type, target_id = item["kind"], item["target_type"], item["target_id"]
        period, payload, branch_id = item["period"], item["payload"], item["branch_id"]
    if not isinstance(kind, str) or not 0 < len(kind) <= 40:
        raise ValueError(f"outbox kind must be 1-40 characters, got {kind!r}")
    if target_type not in TARGET_TYPES:
        raise ValueError(f"outbox target_type must be one of {TARGET_TYPES}, got {target_type!r}")
    if not isinstance(period, str) or not 0 < len(period) <= 64:
        raise ValueError(f"outbox period must be 1-64 characters, got {period!r}")
    text = payload.get("text") if isinstance(payload, Mapping) else None
    if not isinstance(text, str) or not text.strip():
        raise ValueError("outbox payload must be a mapping with a non-empty 'text'")
    return kind, target_type, int(target_id), period, _payload_json(payload), int(branch_id)


def _row(item: Outgoing | Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Check one outgoing message and return the column values of its row."""
    return _values(_checked(item), now)


def _values(checked: tuple[str, str, int, str, str, int], now: datetime) -> dict[str, Any]:
    return {
        **dict(zip(_VARYING, checked, strict=True)),
        "status": "pending",
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue(
    kind: str,
    target_type: str,
    target_id: int,
    period: str,
    payload: Mapping[str, Any],
    *,
    branch_id: int,
    now: datetime,
) -> bool:
    """Add one message unless its key exists already; tell whether this call created it."""
    values = _row(Outgoing(kind, target_type, target_id, period, payload, branch_id), now)
    with _write():
        created = OutboxMessage.insert(**values).on_conflict_ignore().as_rowcount().execute()
    return created > 0


def _insert_ignoring(values: Mapping[str, Any]) -> Any:
    return OutboxMessage.insert(**values).on_conflict_ignore().as_rowcount()


# The row tuple of a multi-row VALUES list in the one-row INSERT that peewee renders.
_VALUES_TUPLE = re.compile(r"VALUES (\((?:%s, )*%s\))")


def enqueue_many(rows: Iterable[Outgoing | Mapping[str, Any]], *, now: datetime) -> int:
    """Add many messages in one transaction; return how many are new.

    The one-row INSERT is rendered once and bound to every row (SQLite: ``executemany`` of
    ``INSERT OR IGNORE``; PostgreSQL: pages of 2,000 rows in one multi-row statement): the
    daily dues reminder writes tens of thousands of rows, and rendering each through the ORM
    took most of its time.
    """
    checked = [_checked(item) for item in rows]
    if not checked:
        return 0
    first = _values(checked[0], now)
    sql, slots = _prepare("enqueue", _insert_ignoring, first)
    # Each parameter is a value that varies by row (its index in _checked's tuple) or one that
    # holds for the whole call (the status, ``now``, the query's constants), appended to each
    # row's tuple.
    fixed = [_bindable(first[n]) if n else p for n, p in slots if n not in _VARYING]
    if is_sqlite():
        # The driver would turn the two times into text again for every row: do it once,
        # with the adapter it would use.
        fixed = [_sqlite_adapted(value) for value in fixed]
    positions, k = [], len(_VARYING)
    for n, _ in slots:
        if n in _VARYING:
            positions.append(_VARYING.index(n))
        else:
            positions.append(k)
            k += 1
    pick = itemgetter(*positions)
    constants = tuple(fixed)
    params = [pick(row + constants) for row in checked]
    with _write():
        cursor = db.cursor()
        if is_sqlite():
            cursor.executemany(sql, params)
            return max(cursor.rowcount, 0)
        from psycopg2.extras import execute_values

        match = _VALUES_TUPLE.search(sql)
        if match is None:
            raise RuntimeError(f"unexpected INSERT shape for the outbox: {sql}")
        paged = sql[: match.start(1)] + "%s" + sql[match.end(1) :]
        if "RETURNING" not in paged.upper():
            paged += " RETURNING 1"
        returned = execute_values(
            cursor, paged, params, template=match.group(1), page_size=INSERT_CHUNK, fetch=True
        )
        return len(returned)


def _sqlite_adapted(value: Any) -> Any:
    """A value as Python's sqlite3 binds it: through its registered adapter, if any."""
    adapt = sqlite3.adapters.get((type(value), sqlite3.PrepareProtocol))
    return value if adapt is None else adapt(value)


# ----- claim -------------------------------------------------------------------------------


def _stale_before(now: datetime, settings: Settings) -> datetime:
    return now - timedelta(seconds=settings["outbox"]["claim_timeout_seconds"])


def _due(now: datetime, settings: Settings) -> Any:
    """Rows to work on: pending and due, or claimed so long ago that their drainer died."""
    return ((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now)) | (
        (OutboxMessage.status == "sending")
        & (OutboxMessage.claimed_at < _stale_before(now, settings))
    )


def claim(now: datetime, limit: int, settings: Settings) -> list[OutboxMessage]:
    """Mark up to ``limit`` due rows ``sending`` (claimed at ``now``) and return them.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so drainers running at once take disjoint rows.
    SQLite: the IMMEDIATE transaction holds the one write lock from the select to the update.
    Each claim counts as an attempt; a deferral (rate limit) gives it back.
    """
    with _write():
        query = (
            OutboxMessage.select(OutboxMessage.id)
            .where(_due(now, settings))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if not is_sqlite():
            query = query.for_update(skip_locked=True)
        ids = [row.id for row in query]
        if not ids:
            return []
        OutboxMessage.update(
            status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1
        ).where(OutboxMessage.id.in_(ids)).execute()
        return list(
            OutboxMessage.select()
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        )


def next_due(now: datetime, settings: Settings) -> datetime | None:
    """Return when the next row becomes due (now or earlier when one is due), or None."""
    pending = (
        OutboxMessage.select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.next_attempt_at)
        .first()
    )
    sending = (
        OutboxMessage.select(OutboxMessage.claimed_at)
        .where(OutboxMessage.status == "sending")
        .order_by(OutboxMessage.claimed_at)
        .first()
    )
    times = []
    if pending is not None:
        times.append(pending.next_attempt_at)
    if sending is not None and sending.claimed_at is not None:
        stale_at = sending.claimed_at + timedelta(
            seconds=settings["outbox"]["claim_timeout_seconds"]
        )
        times.append(stale_at + timedelta(microseconds=1))
    return min(times) if times else None


# ----- where each row goes -----------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """Where and how a row is sent; ``target`` (robot key, chat id, userid, openid) is secret."""

    channel: str
    target: str = field(repr=False)
    label: str  # safe for logs: no key, no chat id, no phone number
    lane: str  # rows of one lane are sent in order by one thread
    rate_bucket: str | None = None  # group robots: the sliding-window bucket of the key
    mentioned_userids: tuple[str, ...] = ()
    mentioned_mobiles: tuple[str, ...] = field(default=(), repr=False)
    template_id: str = ""


@dataclass(frozen=True)
class Skip:
    """The row has nowhere to go: it is marked ``skipped`` with this reason."""

    reason: str


def robot_bucket(key: str) -> str:
    """Return the rate-limit bucket of a robot key (a digest: the key never leaves the row)."""
    return "robot:" + secret_digest(key)


def _mention_ids(row: OutboxMessage) -> list[int]:
    ids = row.data.get("mention_member_ids") or []
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]


def resolve_addresses(
    rows: Sequence[OutboxMessage], settings: Settings
) -> dict[int, Address | Skip]:
    """Pick each row's channel and address, in a constant number of queries per batch.

    A branch row goes to the branch's group channel. A member row goes to the first the member
    has of: a WeCom userid (when a WeCom app is configured) > an official-account openid (when
    a template is configured) > a mini-program openid with a subscribe credit (or one already
    taken for this row) > the console (only with ``channels.personal_fallback = "console"``)
    > nothing: skipped, with the reason, and nobody is alarmed (the member must bind first).
    """
    channels = settings["channels"]
    out: dict[int, Address | Skip] = {}
    branch_rows = [r for r in rows if r.target_type == "branch"]
    member_rows = [r for r in rows if r.target_type == "member"]

    group = (
        {
            c.branch_id: c
            for c in BranchChannel.select().where(
                BranchChannel.branch.in_({r.target_id for r in branch_rows})
            )
        }
        if branch_rows
        else {}
    )
    mention_ids = {
        i
        for r in branch_rows
        if (c := group.get(r.target_id)) is not None and c.mention and c.kind == "wecom_robot"
        for i in _mention_ids(r)
    }
    person_ids = {r.target_id for r in member_rows} | mention_ids
    people: dict[int, tuple[str, str | None]] = {}
    if person_ids:
        query = (
            Member.select(Member.id, Member.phone, MemberContact.wecom_userid)
            .join(MemberContact, JOIN.LEFT_OUTER, on=MemberContact.member == Member.id)
            .where(Member.id.in_(person_ids))
            .tuples()
        )
        people = {mid: (phone, userid) for mid, phone, userid in query}

    for row in branch_rows:
        c = group.get(row.target_id)
        if c is None or not c.kind:
            out[row.id] = Skip(NO_GROUP_CHANNEL)
            continue
        label = f"branch {row.target_id} {c.kind}"
        if c.kind == "wecom_robot":
            userids: list[str] = []
            mobiles: list[str] = []
            if c.mention:
                for mid in _mention_ids(row):
                    phone, userid = people.get(mid, ("", None))
                    if userid:
                        userids.append(userid)
                    elif phone:
                        mobiles.append(phone)
                if row.data.get("mention_all") is True:
                    userids.append("@all")
            bucket = robot_bucket(c.target)
            out[row.id] = Address(
                "wecom_robot",
                c.target,
                f"{label} {mask_target(c.target)}",
                lane=bucket,
                rate_bucket=bucket,
                mentioned_userids=tuple(userids),
                mentioned_mobiles=tuple(mobiles),
            )
        elif c.kind == "wecom_appchat":
            lane = "appchat:" + secret_digest(c.target)
            out[row.id] = Address("wecom_appchat", c.target, label, lane=lane)
        else:
            out[row.id] = Address("console", "", label, lane=f"console:{row.target_id}")

    if not member_rows:
        return out
    member_ids = {r.target_id for r in member_rows}
    openids: dict[tuple[int, str], str] = {
        (b.member_id, b.app): b.openid
        for b in WechatBinding.select().where(WechatBinding.member.in_(member_ids))
    }
    template_id = channels["template_id"]
    subscribe_id = channels["subscribe_template_id"]
    credits: dict[str, int] = {}
    mini = [o for (_, app), o in openids.items() if app == "mini"]
    if subscribe_id and mini:
        credits = {
            c.openid: c.credits
            for c in SubscribeCredit.select().where(
                SubscribeCredit.openid.in_(mini), SubscribeCredit.template_id == subscribe_id
            )
        }
    wecom_app = bool(channels["wecom_corp_id"] and channels["wecom_agent_id"])
    for row in member_rows:
        mid = row.target_id
        lane = f"member:{mid}"
        label = f"member {mid}"
        _phone, userid = people.get(mid, ("", None))
        oa = openids.get((mid, "oa"))
        mp = openids.get((mid, "mini"))
        if wecom_app and userid:
            out[row.id] = Address("wecom_app", userid, f"{label} wecom_app", lane=lane)
        elif template_id and oa:
            out[row.id] = Address(
                "template", oa, f"{label} template", lane=lane, template_id=template_id
            )
        elif subscribe_id and mp and (row.credit_spent or credits.get(mp, 0) > 0):
            out[row.id] = Address(
                "subscribe", mp, f"{label} subscribe", lane=lane, template_id=subscribe_id
            )
        elif channels["personal_fallback"] == "console":
            out[row.id] = Address("console", "", f"{label} console", lane=lane)
        elif subscribe_id and mp:
            out[row.id] = Skip(NO_CREDIT)
        else:
            out[row.id] = Skip(NO_PERSONAL_CHANNEL)
    return out


# ----- one part of a send: renew the claim, pace, take a credit ----------------------------


@dataclass(frozen=True)
class Grant:
    """The answer of ``begin_part``: go ahead (with a rate event to settle), wait, or stop."""

    go: bool
    rate_event_id: int | None = None
    wait: float = 0.0  # seconds until the robot's window has room (go is False)
    lost: bool = False  # another drainer took the row over: leave it alone
    no_credit: bool = False  # a subscribe message without a credit: skip the row


def _advisory_lock(bucket: str) -> None:
    """Serialize rate-window checks of one bucket across PostgreSQL sessions (until commit)."""
    key = int.from_bytes(hashlib.sha256(bucket.encode()).digest()[:8], "big", signed=True)
    db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def begin_part(row: OutboxMessage, address: Address, now: datetime, settings: Settings) -> Grant:
    """Before sending one part: renew the claim, reserve a slot in the robot's window, and take
    a subscribe credit for the row's first part; all in one short transaction, or none when
    there is nothing to do.

    The claim is renewed only once it is a third of ``claim_timeout_seconds`` old: a younger
    claim cannot be taken over before this part's record (core.config holds
    ``claim_timeout_seconds`` to at least 10 x the connect plus read timeouts).

    A reserved slot is recorded as a RateEvent dated ``now + connect + read timeout`` (the
    latest the request can reach WeCom), so a slow request still counts in every drainer's
    window; the record after the answer moves it to the answer time (see ``_settle``).
    """
    cfg = settings["outbox"]
    renew = row.claimed_at is None or now - row.claimed_at > timedelta(
        seconds=cfg["claim_timeout_seconds"] / 3
    )
    take_credit = address.channel == "subscribe" and not row.credit_spent
    bucket = address.rate_bucket
    if not (renew or take_credit or bucket):
        return Grant(True)
    with _write():
        if renew:
            renewed = (
                OutboxMessage.update(claimed_at=now)
                .where(
                    OutboxMessage.id == row.id,
                    OutboxMessage.status == "sending",
                    OutboxMessage.claimed_at == row.claimed_at,
                )
                .execute()
            )
            if not renewed:
                return Grant(False, lost=True)
            row.claimed_at = now
        event_id = None
        if bucket is not None:
            if not is_sqlite():
                _advisory_lock(bucket)
            window = timedelta(seconds=cfg["robot_rate_window_seconds"])
            limit = cfg["robot_rate_limit"]
            cursor = _run(
                "rate_window",
                lambda v: (
                    RateEvent.select(RateEvent.at)
                    .where(RateEvent.bucket == v["bucket"], RateEvent.at > v["since"])
                    .order_by(RateEvent.at)
                ),
                {"bucket": bucket, "since": now - window},
            )
            recent = [RateEvent.at.python_value(at) for (at,) in cursor.fetchall()]
            if len(recent) >= limit:
                frees_at = recent[len(recent) - limit] + window
                return Grant(False, wait=max((frees_at - now).total_seconds(), 0.001))
            at = now + timedelta(
                seconds=cfg["connect_timeout_seconds"] + cfg["read_timeout_seconds"]
            )
            cursor = _run(
                "rate_reserve",
                lambda v: RateEvent.insert(bucket=v["bucket"], at=v["at"]),
                {"bucket": bucket, "at": at},
            )
            event_id = cursor.lastrowid if is_sqlite() else cursor.fetchone()[0]
        if take_credit:
            taken = (
                SubscribeCredit.update(credits=SubscribeCredit.credits - 1, updated_at=now)
                .where(
                    SubscribeCredit.openid == address.target,
                    SubscribeCredit.template_id == address.template_id,
                    SubscribeCredit.credits > 0,
                )
                .execute()
            )
            if not taken:
                return Grant(False, no_credit=True)
            OutboxMessage.update(credit_spent=True).where(OutboxMessage.id == row.id).execute()
            row.credit_spent = True
        return Grant(True, rate_event_id=event_id)


def _settle(rate_event_id: int | None, now: datetime) -> None:
    """Date a reserved rate slot at the answer time (an upper bound of WeCom's receipt)."""
    if rate_event_id is not None:
        _run(
            "rate_settle",
            lambda v: RateEvent.update(at=v["at"]).where(RateEvent.id == v["id"]),
            {"at": now, "id": rate_event_id},
        )


def _ours(row: OutboxMessage) -> Any:
    return (
        (OutboxMessage.id == row.id)
        & (OutboxMessage.status == "sending")
        & (OutboxMessage.claimed_at == row.claimed_at)
    )


def rest_bucket(bucket: str, until: datetime, settings: Settings) -> None:
    """Keep every drainer off a robot key until ``until`` (after a 45009).

    The rest is written as a full window: ``robot_rate_limit`` events dated ``until`` less
    the window, so the window check alone keeps the key idle until then.
    """
    cfg = settings["outbox"]
    at = until - timedelta(seconds=cfg["robot_rate_window_seconds"])
    with _write():
        RateEvent.insert_many([{"bucket": bucket, "at": at}] * cfg["robot_rate_limit"]).execute()


def prune_rate_events(now: datetime, settings: Settings) -> None:
    """Delete robot rate events long past their window (once per drain call)."""
    window = timedelta(seconds=settings["outbox"]["robot_rate_window_seconds"])
    with _write():
        RateEvent.delete().where(
            RateEvent.bucket.startswith("robot:"), RateEvent.at < now - 2 * window
        ).execute()


# ----- records -----------------------------------------------------------------------------


def record_part(
    row: OutboxMessage, parts_sent: int, now: datetime, *, rate_event_id: int | None = None
) -> bool:
    """Record that the first ``parts_sent`` parts of a split message were accepted."""
    with _write():
        _settle(rate_event_id, now)
        updated = OutboxMessage.update(parts_sent=parts_sent).where(_ours(row)).execute()
    row.parts_sent = parts_sent
    return updated > 0


def mark_sent(
    row: OutboxMessage,
    now: datetime,
    *,
    channel: str = "",
    parts: int | None = None,
    rate_event_id: int | None = None,
) -> bool:
    """Record a row as sent; False when the claim was no longer ours (nothing changed)."""
    values = {
        "sent_at": now,
        "channel": channel or row.channel,
        "parts": row.parts_sent if parts is None else parts,
        "id": row.id,
        "claimed_at": row.claimed_at,
    }
    with _write():
        _settle(rate_event_id, now)
        updated = _run(
            "mark_sent",
            lambda v: OutboxMessage.update(
                {
                    OutboxMessage.status: "sent",
                    OutboxMessage.last_error: "",
                    OutboxMessage.sent_at: v["sent_at"],
                    OutboxMessage.channel: v["channel"],
                    OutboxMessage.parts_sent: v["parts"],
                }
            ).where(
                OutboxMessage.id == v["id"],
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_at == v["claimed_at"],
            ),
            values,
        ).rowcount
    if updated:
        row.status, row.sent_at = "sent", now
    return updated > 0


def backoff_seconds(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Return the wait after the ``attempts``-th failed attempt: exponential, capped, jittered.

    ``min(cap, base * factor ** (attempts - 1))`` less a random share of up to ``jitter`` of
    it. With factor 2 and jitter 0.5 each wait is at least the longest previous one, so the
    gaps grow while two rows failing together drift apart.
    """
    cfg = settings["outbox"]
    exponent = max(attempts - 1, 0)
    try:
        raw = cfg["backoff_base_seconds"] * cfg["backoff_factor"] ** exponent
    except OverflowError:
        raw = float("inf")
    delay = min(cfg["backoff_cap_seconds"], raw)
    share = (rng or random).random() * cfg["backoff_jitter"]
    return delay * (1.0 - share)


def _clip(text: str) -> str:
    return text if len(text) <= LAST_ERROR_MAX else text[: LAST_ERROR_MAX - 1] + "…"


def mark_failed(
    row: OutboxMessage,
    error: BaseException | str,
    now: datetime,
    settings: Settings,
    *,
    rate_event_id: int | None = None,
    channel: str = "",
) -> str:
    """Record a failed attempt: back to ``pending`` after a backoff, or ``dead`` (and the
    branch secretary told) after ``max_attempts`` or a failure that retrying cannot mend.

    ``error`` is a message (retryable) or an exception with optional ``retryable``,
    ``retry_after`` and ``notice`` (the Chinese reason for the secretary) attributes; its
    text must hold no secret (channel errors never do). Returns the new status, or "" when
    the claim was no longer ours.
    """
    message = _clip(str(error))
    retryable = bool(getattr(error, "retryable", True))
    retry_after = getattr(error, "retry_after", None)
    notice = getattr(error, "notice", None)
    dead = not retryable or row.attempts >= settings["outbox"]["max_attempts"]
    values: dict[Any, Any] = {OutboxMessage.last_error: message}
    if channel:
        values[OutboxMessage.channel] = channel
    if dead:
        values[OutboxMessage.status] = "dead"
    else:
        delay = backoff_seconds(row.attempts, settings)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        values[OutboxMessage.status] = "pending"
        values[OutboxMessage.next_attempt_at] = now + timedelta(seconds=delay)
    with _write():
        _settle(rate_event_id, now)
        updated = OutboxMessage.update(values).where(_ours(row)).execute()
        if not updated:
            return ""
        if dead:
            _notify_secretary(row, notice or _generic_reason(message, row.attempts), now)
    status = "dead" if dead else "pending"
    row.status, row.last_error = status, message
    if not dead:
        row.next_attempt_at = values[OutboxMessage.next_attempt_at]
    level = logging.WARNING if dead else logging.INFO
    log.log(level, "Outbox row %s (%s) attempt %s failed, now %s: %s", row.id, row.kind,
            row.attempts, status, message)  # fmt: skip
    return status


def defer(rows: Sequence[OutboxMessage], until: datetime) -> int:
    """Put claimed rows back to ``pending`` until ``until`` without counting an attempt.

    For waits that are nobody's failure: a robot's full window, a 45009, the drain's time
    budget running out, or a lane held back behind a failed row.
    """
    if not rows:
        return 0
    tokens = {r.claimed_at for r in rows}
    with _write():
        updated = (
            OutboxMessage.update(
                status="pending",
                next_attempt_at=until,
                attempts=OutboxMessage.attempts - 1,
            )
            .where(
                OutboxMessage.id.in_([r.id for r in rows]),
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_at.in_(tokens),
            )
            .execute()
        )
    for r in rows:
        r.status, r.next_attempt_at = "pending", until
    return updated


def skip(row: OutboxMessage, reason: str, now: datetime, *, channel: str = "") -> bool:
    """Mark a row ``skipped``: it has nowhere to go, and retrying will not change that."""
    values: dict[Any, Any] = {
        OutboxMessage.status: "skipped",
        OutboxMessage.last_error: _clip(reason),
    }
    if channel:
        values[OutboxMessage.channel] = channel
    with _write():
        updated = OutboxMessage.update(values).where(_ours(row)).execute()
    if updated:
        row.status = "skipped"
    return updated > 0


def forget_credits(openid: str, template_id: str, now: datetime) -> None:
    """Set a subscribe credit count to 0 after WeChat said there is none (43101)."""
    with _write():
        SubscribeCredit.update(credits=0, updated_at=now).where(
            SubscribeCredit.openid == openid, SubscribeCredit.template_id == template_id
        ).execute()


# ----- the secretary's notice about a dead row ---------------------------------------------


def _generic_reason(message: str, attempts: int) -> str:
    return f"已尝试 {attempts} 次仍未成功（{message}）"


def notice_recipient(branch_id: int) -> Member | None:
    """Return who hears about dead rows of a branch: its secretary, else deputy, else organizer."""
    managers = [
        m
        for m in Member.select().where(Member.branch == branch_id, Member.roles != "")
        if m.has_role(*NOTICE_ROLES)
    ]
    for role in NOTICE_ROLES:
        for m in sorted(managers, key=lambda m: m.id):
            if role in m.role_set:
                return m
    return None


def _notify_secretary(row: OutboxMessage, reason: str, now: datetime) -> None:
    """Enqueue one notice (keyed by the dead row) to the branch secretary; never for a notice."""
    if row.kind == DEAD_NOTICE_KIND:
        log.warning("Dead-row notice %s itself died; not noticing it again", row.id)
        return
    recipient = notice_recipient(row.branch_id)
    if recipient is None:
        log.warning("Outbox row %s died and branch %s has no secretary to tell", row.id,
                    row.branch_id)  # fmt: skip
        return
    title = row.data.get("title") or KIND_LABELS.get(row.kind, row.kind)
    whom = "支部群" if row.target_type == "branch" else "一名党员"
    text = (
        f"【消息未送达】发往{whom}的“{title}”没有发出去：{reason}。"
        f"请检查通知渠道设置；可用 flask --app app outbox list --status dead 查看。"
    )
    enqueue(
        DEAD_NOTICE_KIND,
        "member",
        recipient.id,
        f"row-{row.id}",
        {"title": "消息未送达", "text": text},
        branch_id=row.branch_id,
        now=now,
    )


# ----- subscribe credits (the mini-program reports accepts) --------------------------------


def add_subscribe_credits(openid: str, template_id: str, now: datetime, n: int = 1) -> int:
    """Record ``n`` accepts of a subscribe template by a mini-program user; return the total."""
    if n < 1:
        raise ValueError("n must be at least 1")
    with _write():
        SubscribeCredit.insert(
            openid=openid, template_id=template_id, credits=n, updated_at=now
        ).on_conflict(
            conflict_target=[SubscribeCredit.openid, SubscribeCredit.template_id],
            update={
                SubscribeCredit.credits: SubscribeCredit.credits + n,
                SubscribeCredit.updated_at: now,
            },
        ).execute()
        row = SubscribeCredit.get(
            SubscribeCredit.openid == openid, SubscribeCredit.template_id == template_id
        )
    return row.credits


def take_subscribe_credit(openid: str, template_id: str, now: datetime) -> bool:
    """Spend one credit atomically (UPDATE ... WHERE credits > 0); False when none is left."""
    with _write():
        taken = (
            SubscribeCredit.update(credits=SubscribeCredit.credits - 1, updated_at=now)
            .where(
                SubscribeCredit.openid == openid,
                SubscribeCredit.template_id == template_id,
                SubscribeCredit.credits > 0,
            )
            .execute()
        )
    return taken > 0


# ----- channels and contacts, for the CLI and the console ----------------------------------


def set_branch_channel(
    branch_id: int,
    kind: str,
    target: str,
    now: datetime,
    *,
    mention: bool | None = None,
    nudge_enabled: bool | None = None,
    volunteer_enabled: bool | None = None,
) -> BranchChannel:
    """Create or replace a branch's group channel; flags left None keep their value."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"channel kind must be one of {', '.join(GROUP_KINDS)}")
    if kind != "console" and not target.strip():
        raise ValueError("a robot key or chat id is required")
    with _write():
        channel = BranchChannel.get_or_none(BranchChannel.branch == branch_id)
        if channel is None:
            channel = BranchChannel(branch=branch_id)
        channel.kind = kind
        channel.target = target.strip() if kind != "console" else ""
        for name, value in (
            ("mention", mention),
            ("nudge_enabled", nudge_enabled),
            ("volunteer_enabled", volunteer_enabled),
        ):
            if value is not None:
                setattr(channel, name, value)
        channel.updated_at = now
        channel.save()
    return channel


def set_wecom_userid(member_id: int, userid: str | None, now: datetime) -> None:
    """Record (or clear, with None) a member's WeCom userid."""
    with _write():
        MemberContact.insert(member=member_id, wecom_userid=userid, updated_at=now).on_conflict(
            conflict_target=[MemberContact.member],
            update={MemberContact.wecom_userid: userid, MemberContact.updated_at: now},
        ).execute()


def dead_counts(branch_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Return the number of dead rows per branch (one query), for digests and the console."""
    query = (
        OutboxMessage.select(OutboxMessage.branch, fn.COUNT(OutboxMessage.id))
        .where(OutboxMessage.status == "dead")
        .group_by(OutboxMessage.branch)
        .tuples()
    )
    if branch_ids is not None:
        query = query.where(OutboxMessage.branch.in_(list(branch_ids)))
    return dict(query)
