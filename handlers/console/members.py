"""The console's member pages: one member's record, binding codes, and the roster upload.

Each function is one use case for a branch manager (models.org.BRANCH_MANAGERS) of the branch,
or the committee admin of its committee (handlers.branches.branch_acted_for); it composes the
handlers the bot and the API already use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from core.workdays import work_calendar
from handlers.branches import branch_acted_for
from handlers.dues import MemberDues, member_dues
from handlers.dues.entries import Entries, recent_entries
from handlers.errors import Invalid
from handlers.meetings.views import Summary, summaries
from handlers.membership import (
    History,
    membership_history,
    return_choices,
    transfer_choices,
)
from handlers.privacy.reads import note_member_read
from handlers.roster.access import not_found
from handlers.roster.codes import BranchCodes, issue_branch_codes
from handlers.roster.members import list_members
from handlers.roster.preview import RosterPreview, import_for, preview_roster
from handlers.roster.writing import ImportReport
from handlers.study import MemberWeek, member_week
from models.meetings import Meeting, MeetingAttendee
from models.org import BRANCH_MANAGERS, LEFT, Branch, Member, may_manage_binding
from models.study import StudyCheckin

STUDY_WEEKS = 8
RECENT_PAYMENTS = 24
# Codes per request: a print run of a large branch, well above the API's 100 per call.
MAX_CODES = 500
NOTHING_CHOSEN = "请至少勾选一名党员，或选择“全部未绑定党员”。"


# ---- one member's record -----------------------------------------------------------------------


@dataclass(frozen=True)
class StudyWeek:
    start: date  # Monday
    days: int  # days with a check-in


@dataclass(frozen=True)
class MemberRecord:
    branch: Branch
    member: Member
    phone: str  # in full: the page is for the managers of the member's branch
    today: date
    week: MemberWeek  # this week, the streak and the total
    weeks: list[StudyWeek]  # the last STUDY_WEEKS weeks, oldest first
    meetings: list[Summary]  # this year's meetings the member is expected at, newest first
    dues: MemberDues | None  # party members only
    payments: Entries | None  # party members, and members who left (what they paid)
    history: History  # transfers between branches, and the departure
    transfer_to: list[Branch]  # where the viewer may move the member (committee admins)
    may_leave: bool  # whether the viewer may record the member's departure
    return_to: list[Branch]  # where the viewer may bring back a member who transferred out


def _study_weeks(member: Member, today: date) -> list[StudyWeek]:
    """Days with a check-in per week, for the last STUDY_WEEKS weeks (this week last)."""
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=STUDY_WEEKS - 1)
    days = {
        row.day
        for row in StudyCheckin.select(StudyCheckin.day)
        .where(StudyCheckin.member == member.id, StudyCheckin.day.between(first, today))
        .distinct()
    }
    weeks = []
    for n in range(STUDY_WEEKS):
        start = first + timedelta(weeks=n)
        weeks.append(StudyWeek(start, sum(1 for d in days if start <= d < start + timedelta(7))))
    return weeks


def _meetings_this_year(member: Member, today: date, tz: ZoneInfo) -> list[Summary]:
    """The meetings of this year the member is expected at (not cancelled), with their state."""
    new_year = datetime(today.year, 1, 1, tzinfo=tz)
    rows = list(
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            MeetingAttendee.member == member.id,
            Meeting.status == "scheduled",
            Meeting.starts_at >= new_year,
            Meeting.starts_at < datetime(today.year + 1, 1, 1, tzinfo=tz),
        )
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    return summaries(rows, member)


def member_record(
    actor: Member, branch_id: int, member_id: int, *, now: datetime, settings: Settings
) -> MemberRecord:
    """A member of the branch as its managers see them: the full phone number, study,
    meetings, dues, transfers and departure, and what the viewer may do (move them, record
    their departure); the read is noted in the read log (查阅记录).

    Another branch's manager is refused; a member id that is not in the branch is not found,
    whether or not it exists elsewhere.
    """
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    member = Member.get_or_none(Member.id == member_id, Member.branch == branch.id)
    if member is None:
        raise not_found()
    member.branch = branch
    tz = ZoneInfo(settings.app.timezone)
    today = local_day(now, tz)
    calendar, max_age = work_calendar(settings), settings.study.topic_cache_seconds
    week = member_week(member, now=now, tz=tz, calendar=calendar, topic_max_age=max_age)
    dues = payments = None
    if member.is_party_member:
        dues = member_dues(member, now=now, settings=settings)
    if member.is_party_member or member.has_left:
        payments = recent_entries(member, RECENT_PAYMENTS)
    note_member_read(actor, member, "member", now=now)
    return MemberRecord(
        branch=branch,
        member=member,
        phone=member.phone,
        today=today,
        week=week,
        weeks=_study_weeks(member, today),
        meetings=_meetings_this_year(member, today, tz),
        dues=dues,
        payments=payments,
        history=membership_history(member.id),
        transfer_to=transfer_choices(actor, member),
        may_leave=actor.has_role("committee_admin") and not member.has_left,
        return_to=return_choices(actor, member),
    )


# ---- binding codes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleCodes:
    branch: Branch
    codes: BranchCodes
    skipped: list[Member] = field(default_factory=list)  # hold powers the manager lacks


def _all_unbound(actor: Member, branch: Branch) -> tuple[list[int], list[Member]]:
    """The branch's unbound party-roll members the actor may issue codes for, and the others."""
    page = list_members(branch.id, bound=False, limit=MAX_CODES + 1, offset=0)
    wanted = [m for m in page.members if m.status not in ("out", LEFT)]
    for m in wanted:
        m.branch = branch
    skipped = [m for m in wanted if not may_manage_binding(actor, m)]
    return [m.id for m in wanted if m not in skipped], skipped


def branch_codes(
    actor: Member,
    branch_id: int,
    member_ids: list[int],
    *,
    all_unbound: bool,
    settings: Settings,
    now: datetime,
) -> ConsoleCodes:
    """Issue binding codes to the chosen members of the branch (or every unbound one).

    The API's use case (handlers.roster.codes.issue_branch_codes) with its refusals; choosing
    every unbound member leaves out those whose powers the manager lacks (listed as skipped).
    """
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    skipped: list[Member] = []
    if all_unbound:
        member_ids, skipped = _all_unbound(actor, branch)
    member_ids = list(dict.fromkeys(member_ids))
    if len(member_ids) > MAX_CODES:
        raise Invalid(f"一次最多为 {MAX_CODES} 名党员生成绑定码，请分批勾选。")
    if not member_ids and not skipped:
        raise Invalid(NOTHING_CHOSEN, errcode="nothing_chosen")
    codes = BranchCodes([], [])
    if member_ids:
        codes = issue_branch_codes(actor, branch, member_ids, settings=settings, now=now)
    for item in codes.issued:
        item.member.branch = branch
    return ConsoleCodes(branch, codes, skipped)


# ---- roster upload -----------------------------------------------------------------------------


def roster_preview(
    actor: Member,
    branch_id: int,
    path: str | os.PathLike[str],
    *,
    settings: Settings,
    now: datetime,
) -> RosterPreview:
    """What an uploaded roster would change, for a manager of the branch (writes nothing)."""
    branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    return preview_roster(actor, path, settings=settings, now=now)


def roster_import(
    actor: Member,
    branch_id: int,
    path: str | os.PathLike[str],
    *,
    settings: Settings,
    now: datetime,
) -> ImportReport:
    """Import an uploaded roster after its preview, within the manager's scope."""
    branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    return import_for(actor, path, settings=settings, now=now)
