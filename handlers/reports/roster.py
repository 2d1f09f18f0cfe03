"""The roster export (名册导出): a file the roster import reads back unchanged.

The header is the import's own (handlers.roster.rows.LABELS), statuses and roles are the labels
the import reads, dates are YYYY-MM-DD, and a party member's dues assessment in effect this
month (or, failing that, the first one to come) is given as 党费类别, 工资基数 (yuan with 2
decimals) and 基数起始月 (YYYY-MM), and a person's development days (申请入党日期,
确定积极分子日期, 确定发展对象日期) from their development record. Every cell is text, written
through core.tabular: an .xlsx, or a CSV in UTF-8 with a BOM (Excel then reads the Chinese),
to a file or to bytes.

Phone numbers are masked (138****5678) unless the export is asked for with the full numbers
(``full_phones``: the console's checkbox, the API's full_phones=true, the command line's
--full-phones), which a file meant to be edited and imported back needs: the import matches
members by their phone and refuses a masked one. Every export is noted in the read log
(查阅记录) with the members it names and whether it held the full numbers.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any
from zoneinfo import ZoneInfo

from peewee import JOIN

from core.clock import local_day, utcnow
from core.config import Settings, defaults
from core.tabular import csv_writer, write_xlsx
from handlers.dues import BASED_CATEGORIES, assessment_histories, this_month
from handlers.dues import yuan as yuan_text
from handlers.privacy.reads import note_file_read
from handlers.reports.month import report_scope
from handlers.roster.development import stored_days
from handlers.roster.rows import COLUMNS, LABELS
from handlers.study.plans import plan_scope
from models.development import RECORD_DAYS
from models.dues import CATEGORIES
from models.org import (
    LEFT,
    PARTY_MEMBER_STATUSES,
    ROLES,
    STATUSES,
    Branch,
    Committee,
    Member,
    PartyGroup,
    mask_phone,
)

ROSTER_HEADER = tuple(LABELS[key] for key in COLUMNS)
ROSTER_FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class RosterExport:
    """The rows of a branch's or a committee's roster, ready to write."""

    scope: str  # branch | committee
    name: str  # the branch's or the committee's name
    committee_name: str  # what `roster import` is given to read the file back
    rows: list[list[str]]
    day: date  # the local day it was taken
    full_phones: bool = False  # the phone numbers in full (else masked: 138****5678)

    def filename(self, fmt: str) -> str:
        """第一党支部名册2026年8月19日.xlsx (名册（含完整手机号）… with the full numbers)"""
        d = self.day
        full = "（含完整手机号）" if self.full_phones else ""
        return f"{self.name}名册{full}{d.year}年{d.month}月{d.day}日.{fmt}"

    def ascii_filename(self, fmt: str) -> str:
        """roster-2026-08-19.xlsx, for clients that cannot read a UTF-8 file name."""
        full = "full-" if self.full_phones else ""
        return f"roster-{full}{self.day.isoformat()}.{fmt}"


def _roles(codes: str) -> str:
    return "、".join(ROLES.get(code, code) for code in codes.split(",") if code)


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _assessment(history: Sequence[Any], month: date) -> Any:
    """The assessment in effect in the month, else the first one to come (None if none)."""
    found = None
    for row in history:
        if row.from_month > month and found is not None:
            break
        found = row
    return found


def _dues_cells(member: Any, history: Sequence[Any], month: date) -> list[str]:
    """党费类别, 工资基数 and 基数起始月 for a party member with an assessment, else blanks."""
    row = _assessment(history, month) if member.status in PARTY_MEMBER_STATUSES else None
    if row is None:
        return ["", "", ""]
    if row.category in BASED_CATEGORIES:
        amount = row.base_fen
    elif row.category == "farmer":
        amount = row.fixed_fen
    else:
        amount = None
    base = yuan_text(amount) if amount is not None else ""
    return [CATEGORIES.get(row.category, row.category), base, f"{row.from_month:%Y-%m}"]


def _members(branch_ids: list[int]) -> list[Any]:
    return list(
        Member.select(
            Member, Branch.name.alias("branch_name"), PartyGroup.name.alias("group_name")
        )
        .join(Branch, on=Member.branch == Branch.id)
        .switch(Member)
        .join(PartyGroup, join_type=JOIN.LEFT_OUTER, on=Member.party_group == PartyGroup.id)
        .where(Member.branch.in_(branch_ids), Member.status != LEFT)  # the roll: who is on it
        .order_by(Member.branch, Member.id)
        .objects()
    )


def roster_rows(
    actor: Member | None,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
    full_phones: bool = False,
) -> RosterExport:
    """The roster of one branch (``branch_id``, default the actor's) or of a committee
    (``committee_id``), one row per member in the import's columns; phones masked unless
    ``full_phones``. Noted in the read log."""
    settings = settings or defaults()
    now = now or utcnow()
    tz = ZoneInfo(settings.app.timezone)
    month = this_month(now, tz)
    scope, name, scope_id, branches = report_scope(actor, branch_id, committee_id)
    members = _members([b.id for b in branches])
    histories = assessment_histories(m.id for m in members)
    days = stored_days([m.id for m in members])
    rows = [
        [
            m.name,
            m.phone if full_phones else mask_phone(m.phone),
            m.branch_name,
            m.group_name or "",
            STATUSES.get(m.status, m.status),
            _roles(m.roles),
            _day(m.joined_on),
            _day(m.full_on),
            *_dues_cells(m, histories.get(m.id, []), month),
            _day(m.birth_date),
            *(_day(days.get(m.id, {}).get(key)) for key in RECORD_DAYS),
        ]
        for m in members
    ]
    committee_name = name
    if scope == "branch":
        committee_name = Committee.get_by_id(Branch.get_by_id(scope_id).committee_id).name
    note_file_read(
        actor,
        "roster",
        subject=f"{name}名册" + ("（含完整手机号）" if full_phones else ""),
        scope=scope,
        scope_id=scope_id,
        named=[m.id for m in members],
        now=now,
        full_phones=full_phones,
    )
    return RosterExport(scope, name, committee_name, rows, local_day(now, tz), full_phones)


def roster_rows_named(
    *,
    committee_name: str | None,
    branch_name: str | None,
    settings: Settings,
    now: datetime,
    full_phones: bool = False,
) -> RosterExport:
    """The operator's roster by name: a branch (within --committee if given), a committee, or
    the only committee there is."""
    scope = plan_scope(committee_name=committee_name, branch_name=branch_name)
    return roster_rows(
        None,
        committee_id=scope.committee_id,
        branch_id=scope.branch_id,
        settings=settings,
        now=now,
        full_phones=full_phones,
    )


def write_roster_to(export: RosterExport, target: IO[bytes], fmt: str) -> None:
    """Write the roster to a binary file: ``fmt`` "xlsx", or "csv" (UTF-8 with BOM, for Excel)."""
    if fmt not in ROSTER_FORMATS:
        raise ValueError(f"unknown roster format {fmt!r}")
    rows = [list(ROSTER_HEADER), *export.rows]
    if fmt == "xlsx":
        # The file's times are the day it was taken: the same roster, the same bytes.
        write_xlsx(target, rows, title="名册", created=datetime.combine(export.day, time()))
        return
    text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="")
    try:
        csv_writer(text).writerows(rows)
    finally:
        text.flush()
        text.detach()  # the caller's file stays open


def roster_bytes(export: RosterExport, fmt: str = "xlsx") -> bytes:
    """The roster's file as bytes (a download)."""
    out = io.BytesIO()
    write_roster_to(export, out, fmt)
    return out.getvalue()


def write_roster(export: RosterExport, path: str | os.PathLike[str], *, exclusive: bool) -> None:
    """Write the roster as .csv or .xlsx, by the file's extension.

    ``exclusive``: refuse (FileExistsError) rather than overwrite an existing file.
    """
    fmt = "csv" if os.fspath(path).lower().endswith(".csv") else "xlsx"
    with open(path, "xb" if exclusive else "wb") as fh:
        write_roster_to(export, fh, fmt)
