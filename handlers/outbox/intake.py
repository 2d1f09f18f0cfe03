"""Enqueue: jobs add messages once per key (kind, target_type, target_id, period)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.base import write_tx
from models.outbox import TARGET_TYPES, OutboxMessage
from models.prepared import BulkInsert

# Rows per statement in enqueue_many on PostgreSQL: under its 65,535 bound parameters at 15
# columns a row.
INSERT_CHUNK = 10000


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
    values = _values(
        _checked(Outgoing(kind, target_type, target_id, period, payload, branch_id)), now
    )
    with write_tx():
        created = OutboxMessage.insert(**values).on_conflict_ignore().as_rowcount().execute()
    return created > 0


def _insert_ignoring(values: Mapping[str, Any]) -> Any:
    return OutboxMessage.insert(**values).on_conflict_ignore().as_rowcount()


def enqueue_many(rows: Iterable[Outgoing | Mapping[str, Any]], *, now: datetime) -> int:
    """Add many messages in one transaction; return how many are new.

    The one-row INSERT is rendered once and bound to every row (SQLite: ``executemany`` of
    ``INSERT OR IGNORE``; PostgreSQL: pages of 10,000 rows, one statement binding an array a
    column): the daily dues reminder writes tens of thousands of rows, and rendering each
    through the ORM took most of its time.
    """
    checked = [_checked(item) for item in rows]
    if not checked:
        return 0
    first = _values(checked[0], now)
    bulk = BulkInsert.of("enqueue", _insert_ignoring, first, _VARYING, checked)
    with write_tx():
        return bulk.execute(page_size=INSERT_CHUNK)
