"""The roster's development columns: 申请入党日期, 确定积极分子日期 and 确定发展对象日期, kept on
each person's development record (models.development) rather than on the member.

The stage itself is the 党员状态 column (发展阶段 is read as the same column), and 入党日期 (also
read under 接收预备党员日期) and 转正日期 are the member's own days, as before.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from handlers.sheets import chunks
from models.development import RECORD_DAYS, DevelopmentRecord
from models.org import Member

# The stage each day belongs to: a person at an earlier stage cannot have it.
DAY_STAGES: dict[str, tuple[str, ...]] = {
    "applied_on": ("applicant", "activist", "candidate", "probationary", "full"),
    "activist_on": ("activist", "candidate", "probationary", "full"),
    "candidate_on": ("candidate", "probationary", "full"),
}


def stored_days(member_ids: list[int]) -> dict[int, dict[str, date | None]]:
    """The development days of these members (those with a record), by member id."""
    found: dict[int, dict[str, date | None]] = {}
    columns = [DevelopmentRecord.member] + [getattr(DevelopmentRecord, k) for k in RECORD_DAYS]
    for chunk in chunks(member_ids):
        query = DevelopmentRecord.select(*columns).where(DevelopmentRecord.member.in_(chunk))
        for row in query.tuples():
            found[row[0]] = dict(zip(RECORD_DAYS, row[1:], strict=True))
    return found


def attach_days(existing: dict[str, dict[str, Any]]) -> None:
    """Add each stored member's development days (None without a record) to their row."""
    days = stored_days([row["id"] for row in existing.values()])
    for row in existing.values():
        row.update(days.get(row["id"], dict.fromkeys(RECORD_DAYS)))


def day_changes(
    entry: Any, member: dict[str, Any], present: frozenset[str]
) -> list[tuple[str, Any, Any]]:
    """(column, stored, imported) of the development days the row changes."""
    return [
        (key, member.get(key), entry.days.get(key))
        for key in RECORD_DAYS
        if key in present and member.get(key) != entry.days.get(key)
    ]


def write_days(entries: list[Any], present: frozenset[str], now: datetime) -> int:
    """Create or update the development records the rows' days ask for (the members exist by
    now); a row with no days and no record is left without one. Answers how many changed."""
    keys = [k for k in RECORD_DAYS if k in present]
    if not keys:
        return 0
    ids: dict[str, int] = {}
    for chunk in chunks([e.phone for e in entries]):
        ids.update(Member.select(Member.phone, Member.id).where(Member.phone.in_(chunk)).tuples())
    stored = stored_days(list(ids.values()))
    changed = 0
    for entry in entries:
        member_id = ids[entry.phone]
        wanted = {k: entry.days.get(k) for k in keys}
        have = stored.get(member_id)
        if have is None:
            if any(wanted.values()):
                DevelopmentRecord.create(
                    member=member_id, created_at=now, updated_at=now, **wanted
                )
                changed += 1
            continue
        if any(have[k] != wanted[k] for k in keys):
            DevelopmentRecord.update(**wanted, updated_at=now).where(
                DevelopmentRecord.member == member_id
            ).execute()
            changed += 1
    return changed
