"""Import a checked roster: committees, branches, groups and members upserted by phone."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import local_day, utcnow
from core.config import defaults
from handlers.audit import record
from handlers.errors import DomainError
from handlers.membership import Move, record_moves
from handlers.roster.checks import (
    Entry,
    Progress,
    check_rows,
    dues_item,
    existing_members,
    present_columns,
)
from handlers.roster.development import day_changes, write_days
from handlers.roster.rows import RosterError, Settings, parse_roster
from handlers.sheets import chunks, row_error
from models.base import write_tx
from models.org import Branch, Committee, Member, PartyGroup

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    unchanged: int
    branches_created: int
    groups_created: int
    committee_created: bool = False
    dues_set: int = 0  # members given a new dues category or base (a new DuesAssessment)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _ensure_branches(
    committee: Committee, names: set[str], now: datetime
) -> tuple[dict[str, int], int]:
    """Return branch ids by name for the committee, creating the missing ones."""
    existing = {
        b.name: b.id
        for b in Branch.select(Branch.id, Branch.name).where(Branch.committee == committee.id)
    }
    missing = sorted(names - existing.keys())
    for chunk in chunks(missing):
        Branch.insert_many(
            [{"committee": committee.id, "name": n, "created_at": now} for n in chunk]
        ).as_rowcount().execute()
    if missing:
        existing = {
            b.name: b.id
            for b in Branch.select(Branch.id, Branch.name).where(Branch.committee == committee.id)
        }
    return existing, len(missing)


def _ensure_groups(wanted: set[tuple[int, str]]) -> tuple[dict[tuple[int, str], int], int]:
    """Return group ids by (branch id, name), creating the missing ones."""
    branch_ids = sorted({b for b, _ in wanted})

    def load() -> dict[tuple[int, str], int]:
        found: dict[tuple[int, str], int] = {}
        for chunk in chunks(branch_ids):
            query = PartyGroup.select(PartyGroup.id, PartyGroup.branch, PartyGroup.name)
            for g in query.where(PartyGroup.branch.in_(chunk)):
                found[(g.branch_id, g.name)] = g.id
        return found

    existing = load()
    missing = sorted(wanted - existing.keys())
    for chunk in chunks(missing):
        rows = [{"branch": b, "name": n} for b, n in chunk]
        PartyGroup.insert_many(rows).as_rowcount().execute()
    return (load() if missing else existing), len(missing)


def _write_dues(entries: list[Entry], existing: dict[str, dict[str, Any]], now: datetime) -> int:
    """Add the rows' new dues assessments (history kept), once the members exist."""
    from handlers import dues

    with_dues = [e for e in entries if e.dues is not None]
    if not with_dues:
        return 0
    ids = {phone: row["id"] for phone, row in existing.items()}
    created = [e.phone for e in with_dues if e.phone not in ids]
    if created:
        ids.update({phone: row["id"] for phone, row in existing_members(created).items()})
    histories = dues.assessment_histories(ids[e.phone] for e in with_dues)
    items = []
    for entry in with_dues:
        item = dues_item(entry, ids[entry.phone])
        if dues.already_recorded(histories.get(item.member_id, []), item):
            continue
        if not entry.dues_new:  # recorded when checked, changed since: it was not checked
            raise DomainError(
                "导入期间有人修改了党员的党费类别或基数，未导入任何数据，请重新导入。"
            )
        items.append(item)
    return dues.add_assessments(items, now=now) if items else 0


def _upsert_members(
    entries: list[Entry],
    existing: dict[str, dict[str, Any]],
    branch_ids: dict[str, int],
    group_ids: dict[tuple[int, str], int],
    present: frozenset[str],
    now: datetime,
) -> tuple[int, int, int, list[Move]]:
    """Create the new members and update the changed ones; return how many were created,
    updated and unchanged, and the members moved to another branch. A member changed by
    someone else meanwhile refuses the import."""
    to_create: list[dict[str, Any]] = []
    moves: list[Move] = []
    updated = unchanged = 0
    for e in entries:
        fields: dict[str, Any] = {"name": e.name, "branch": branch_ids[e.branch]}
        if "group" in present:
            fields["party_group"] = group_ids[(fields["branch"], e.group)] if e.group else None
        for key in ("status", "roles", "joined_on", "full_on", "birth_date"):
            if key in present:
                fields[key] = getattr(e, key)
        member = existing.get(e.phone)
        if member is None:
            to_create.append(
                {"phone": e.phone, "created_at": now, "updated_at": now, "version": 1}
                | {"party_group": None, "status": "full", "roles": ""}
                | fields
            )
            continue
        if "group" not in present and member["branch"] != fields["branch"]:
            fields["party_group"] = None  # the old group belongs to the old branch
        changes = {k: v for k, v in fields.items() if member[k] != v}
        if not changes:
            if day_changes(e, member, present):  # only the development record changes
                updated += 1
            else:
                unchanged += 1
            continue
        done = (
            Member.update(**changes, updated_at=now, version=Member.version + 1)
            .where(Member.id == member["id"], Member.version == member["version"])
            .execute()
        )
        if done != 1:
            raise DomainError("导入期间有人修改了党员信息，未导入任何数据，请重新导入。")
        if "branch" in changes:
            moves.append(Move(member["id"], member["branch"], changes["branch"]))
        updated += 1
    for chunk in chunks(to_create):
        Member.insert_many(chunk).as_rowcount().execute()
    return len(to_create), updated, unchanged, moves


def _write(
    entries: list[Entry],
    committee_name: str,
    present: frozenset[str],
    now: datetime,
    settings: Settings,
    actor: Member | None = None,
) -> ImportReport:
    """Upsert the checked entries in one short write transaction; members moved to another
    branch are recorded as transfers of today (handlers.membership.record_moves)."""
    with write_tx():
        committee = Committee.get_or_none(Committee.name == committee_name)
        committee_created = committee is None
        if committee is None:
            committee = Committee.create(name=committee_name, created_at=now)
        branch_ids, branches_created = _ensure_branches(
            committee, {e.branch for e in entries}, now
        )
        wanted_groups = {(branch_ids[e.branch], e.group) for e in entries if e.group}
        group_ids, groups_created = _ensure_groups(wanted_groups) if wanted_groups else ({}, 0)
        existing = existing_members([e.phone for e in entries])
        ours = set(branch_ids.values())
        # Re-checked under the write lock: a member may have moved since validation.
        moved = [
            e for e in entries if e.phone in existing and existing[e.phone]["branch"] not in ours
        ]
        if moved:
            raise RosterError(
                [
                    row_error(e.row_number, f"手机号“{e.phone}”已登记在其他党委的党员名下")
                    for e in moved
                ]
            )
        created, updated, unchanged, moves = _upsert_members(
            entries, existing, branch_ids, group_ids, present, now
        )
        today = local_day(now, ZoneInfo(settings.app.timezone))
        record_moves(moves, actor=actor, on=today, now=now, settings=settings)
        dues_set = _write_dues(entries, existing, now)
        write_days(entries, present, now)
        report = ImportReport(
            created=created,
            updated=updated,
            unchanged=unchanged,
            branches_created=branches_created,
            groups_created=groups_created,
            committee_created=committee_created,
            dues_set=dues_set,
        )
        _record_import(actor, report, committee, sorted(set(branch_ids.values())), now)
    _log(committee, report, len(moves))
    return report


def _log(committee: Committee, report: ImportReport, moves: int) -> None:
    log.info(
        "roster imported into committee id=%s: %d created, %d updated (%d moved), "
        "%d unchanged, %d branches and %d groups created, %d dues assessments added",
        committee.id,
        report.created,
        report.updated,
        moves,
        report.unchanged,
        report.branches_created,
        report.groups_created,
        report.dues_set,
    )


def _record_import(
    actor: Member | None,
    report: ImportReport,
    committee: Committee,
    branch_ids: list[int],
    now: datetime,
) -> None:
    """One audit entry for the file, with its counts (the branch, when it covers one)."""
    counts = {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "branches_created": report.branches_created,
        "groups_created": report.groups_created,
        "dues_set": report.dues_set,
    }
    if not any(v for k, v in counts.items() if k != "unchanged"):
        return  # the same file again: nothing changed
    record(
        actor,
        "roster.import",
        summary=f"导入名册：新增 {report.created} 人，更新 {report.updated} 人，"
        f"未变 {report.unchanged} 人",
        target=f"committee:{committee.id}",
        branch_id=branch_ids[0] if len(branch_ids) == 1 else None,
        committee_id=committee.id,
        after=counts,
        now=now,
    )


def import_roster(
    path: str | os.PathLike[str],
    committee_name: str,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    actor: Member | None = None,
) -> ImportReport:
    """Check the whole file, then upsert its members by phone; any error writes nothing.

    The optional 党费类别, 工资基数 and 基数起始月 columns give a party member a new dues
    assessment (handlers.dues) when they differ from the one in effect; ``settings`` bound
    them (the defaults when None).
    """
    committee_name = committee_name.strip()
    if not committee_name:
        raise DomainError("请填写党委名称。")
    if len(committee_name) > 100:
        raise DomainError(f"党委名称“{committee_name}”过长（最多100个字）。")
    rows = parse_roster(path, settings=settings)
    if not rows:
        raise DomainError("名册中没有党员数据（表头下面是空的）。")
    present = present_columns(rows)
    now = now or utcnow()
    committee = Committee.get_or_none(Committee.name == committee_name)
    entries, errors = check_rows(rows, committee, progress, settings=settings, now=now)
    if errors:
        log.info("roster import refused: %d errors in %d rows", len(errors), len(rows))
        raise RosterError(errors)
    report = _write(entries, committee_name, present, now, settings or defaults(), actor)
    if progress:
        progress(len(rows), len(rows))
    return report
