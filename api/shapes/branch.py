"""Shapes of the routes for branch managers, committee admins and subscribe credits
(api/branch.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field as Constraint

from api.shapes import (
    Answer,
    Bool,
    Count,
    DayText,
    Fen,
    Id,
    Ids,
    Limit,
    MonthText,
    Offset,
    OneLine,
    Page,
    Raw,
    Request,
    TimeText,
)
from api.shapes.v1 import Branch, Role
from handlers.calendar import DUE
from handlers.roster.codes import REFUSALS
from models.org import STATUSES

# Members named in each alert list (the count says how many there are in all).
ALERT_LIST_MAX = 20
# Members per binding-code request.
MAX_CODE_MEMBERS = 100
# Template ids per subscribe report (wx.requestSubscribeMessage takes a few at a time).
MAX_TEMPLATES = 20
TEMPLATE_ID_MAX = 128
Q_MAX = 50
# The worst status of a meeting kind's requirements comes first.
STATUS_RANK = {"overdue": 0, "due_soon": 1, "open": 2, "planned": 3, "ok": 4}
BRANCH_ID = "Committee admins: the branch to act for (default: the caller's own)."

NumRate = Annotated[float | None, Constraint(ge=0, description="0..1; null: nobody to count")]
MemberStatus = Literal[tuple(STATUSES)]  # type: ignore[valid-type]


# ---- requests --------------------------------------------------------------------------------


class BranchQuery(Request):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


class BranchMembersQuery(Request):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    status: OneLine(128, required=False, choices=tuple(STATUSES)) | None = None
    bound: Bool | None = Constraint(
        default=None, description="true: bound to WeChat; false: not yet"
    )
    q: OneLine(Q_MAX, required=False) | None = Constraint(
        default=None, description="Part of the name"
    )
    group_id: Id | None = Constraint(default=None, description="A party group of the branch")
    limit: Limit | None = Constraint(default=None, description="default 20")
    offset: Offset | None = None


class BranchCodesRequest(Request):
    member_ids: Ids(MAX_CODE_MEMBERS)
    branch_id: Id | None = None


class SubscribeReport(Request):
    """Checked by the view (api.branch): a list of template ids."""

    accepted: Raw(
        {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": TEMPLATE_ID_MAX},
            "maxItems": MAX_TEMPLATES,
        }
    )


# ---- answers ---------------------------------------------------------------------------------


class BranchMemberRef(Answer):
    id: int
    name: str


class BranchOverviewStudy(Answer):
    """Party members who checked in at least once this month (a rate only)."""

    first: DayText
    last: DayText
    members: Count
    participants: Count
    checkins: Count
    rate: NumRate


class Period(Answer):
    label: str
    start: DayText
    end: DayText


class BranchOverviewMeetingKind(Answer):
    """One required meeting kind in the compliance calendar."""

    kind: str
    kind_label: str
    frequency: Literal["month", "quarter", "year"]
    period: Period
    required: Count = Constraint(description="1, or one per party group (党小组会)")
    satisfied: Count
    held: Count = Constraint(
        description="Meetings held (ended) this period that count: for 党员大会 and 支委会 "
        "only those where more than half of the voting members were present"
    )
    held_without_quorum: Count = Constraint(
        description="党员大会 or 支委会 that ended this period without a quorum (nobody "
        "recorded present included); they do not satisfy the requirement"
    )
    planned: Count
    next_planned_at: TimeText | None
    due_by: DayText | None = Constraint(description="Period end; null when satisfied")
    days_left: int
    status: Literal[tuple(STATUS_RANK)]  # type: ignore[valid-type]
    overdue: bool
    previous_missed: bool


class BranchOverviewDues(Answer):
    month: MonthText
    expected_fen: Fen
    expected_text: str
    collected_fen: Fen
    collected_text: str
    rate: NumRate
    members_due: Count
    members_paid: Count
    members_exempt: Count
    members_unset: Count


class OwingMember(Answer):
    id: int
    name: str
    months: Count
    fen: Fen
    text: str


class DuesOwing(Answer):
    count: Count
    total_fen: Fen
    total_text: str
    members: list[OwingMember] = Constraint(max_length=ALERT_LIST_MAX)


class LevelCount(Answer):
    level: int
    count: Count


class SixMonthMember(Answer):
    id: int
    name: str
    reason: Literal["dues", "meetings"]
    reason_label: str
    months: Count
    at_least: bool
    level: int
    since: MonthText


class SixMonthRule(Answer):
    count: Count
    levels: list[LevelCount]
    members: list[SixMonthMember] = Constraint(max_length=ALERT_LIST_MAX)


class LostContact(Answer):
    count: Count
    days: int
    members: list[BranchMemberRef] = Constraint(max_length=ALERT_LIST_MAX)


class ProbationMember(Answer):
    id: int
    name: str
    ends_on: DayText


class ProbationEnding(Answer):
    count: Count
    members: list[ProbationMember] = Constraint(max_length=ALERT_LIST_MAX)


class GroupRef(Answer):
    id: int
    name: str


class MeetingDue(Answer):
    kind: str
    kind_label: str
    group: GroupRef | None
    period_label: str
    due_by: DayText
    days_left: int
    status: Literal[DUE]  # type: ignore[valid-type]
    held_without_quorum: Count = Constraint(
        description="Held this period without a quorum (not counted)"
    )


class MeetingsDue(Answer):
    count: Count
    items: list[MeetingDue]


class OverdueRectification(Answer):
    id: int
    number: int
    kind_label: str
    deadline: DayText
    days_overdue: Annotated[int, Constraint(ge=1)]


class RectificationOverdue(Answer):
    count: Count
    items: list[OverdueRectification] = Constraint(max_length=ALERT_LIST_MAX)


class OverdueDevelopmentStep(Answer):
    member: BranchMemberRef
    step: Literal["talk", "review"]
    label: str
    since: DayText | None = Constraint(
        description="The application (talk), or the last review or the activist decision"
    )
    due: DayText
    days_overdue: Annotated[int, Constraint(ge=1)]


class DevelopmentOverdue(Answer):
    count: Count
    items: list[OverdueDevelopmentStep] = Constraint(
        max_length=ALERT_LIST_MAX,
        description="The people, for the branch's own managers only (书记, 副书记, 组织委员); "
        "empty for a committee admin, who gets the count",
    )


class BranchOverviewAlerts(Answer):
    """What the secretary's daily digest lists, as data."""

    count: Count = Constraint(description="Everything below: people, meetings, messages")
    dues_owing: DuesOwing
    six_month_rule: SixMonthRule
    lost_contact: LostContact
    probation_ending: ProbationEnding
    meetings_due: MeetingsDue
    dead_messages: Count = Constraint(description="Notices that could not be delivered")
    study_plan_missing: bool = Constraint(
        description="No study topic for the coming days (study.plan_warning_days)"
    )
    rectification_overdue: RectificationOverdue = Constraint(
        description="Rectification items past their deadline and not done"
    )
    development_overdue: DevelopmentOverdue = Constraint(
        description="People in development whose talk or review is past its deadline"
    )


class BranchOverview(Answer):
    branch: Branch
    as_of: DayText
    study: BranchOverviewStudy
    meetings: list[BranchOverviewMeetingKind]
    dues: BranchOverviewDues
    alerts: BranchOverviewAlerts


class BranchMemberItem(Answer):
    id: int
    name: str
    phone: str = Constraint(description="Masked: 138****5678.")
    status: MemberStatus
    status_label: str
    roles: list[Role]
    group: GroupRef | None
    bound: bool
    last_active_on: DayText | None


class BranchMemberPage(Page):
    items: list[BranchMemberItem]


class IssuedCode(Answer):
    member: BranchMemberRef
    code: str = Constraint(min_length=8)
    code_display: str = Constraint(description="ABCD-2345")
    expires_at: TimeText


class RefusedCode(Answer):
    member: BranchMemberRef
    reason: Literal[tuple(REFUSALS)]  # type: ignore[valid-type]
    message: str


class BranchCodesResponse(Answer):
    """Codes are shown this once (only a hash is kept); earlier unused codes of the same
    members stop working."""

    issued: list[IssuedCode]
    refused: list[RefusedCode]


class BranchUnbindResponse(Answer):
    member: BranchMemberRef
    bindings_removed: Count
    sessions_revoked: Count


class CommitteeStudy(Answer):
    members: Count
    participants: Count
    rate: NumRate


class CommitteeMeetings(Answer):
    required: Count
    satisfied: Count
    held: Count
    due: Count = Constraint(description="Due soon or overdue")
    overdue: Count


class CommitteeDues(Answer):
    expected_fen: Fen
    expected_text: str
    collected_fen: Fen
    collected_text: str
    rate: NumRate


class CommitteeTraining(Answer):
    members: Count = Constraint(description="Party members")
    average_hours: float | None = Constraint(description="学时 per party member this year")
    below: Count = Constraint(description="Party members under the year's required hours")
    below_rate: NumRate


class CommitteeAgeBand(Answer):
    label: str = Constraint(description="35岁以下, 35—45岁 … (roster.age_bands), or 未知")
    members: Count


class CommitteeMakeUp(Answer):
    age_bands: list[CommitteeAgeBand]
    admitted_this_year: Count = Constraint(description="Party members whose 入党日期 is this year")


class CommitteeVolunteer(Answer):
    minutes: Count = Constraint(description="Confirmed volunteer service this month")
    hours: float
    people: Count
    entries: Count


class CommitteeBranchItem(Answer):
    branch: Branch
    study: CommitteeStudy
    meetings: CommitteeMeetings
    dues: CommitteeDues
    alert_count: Count
    training: CommitteeTraining
    makeup: CommitteeMakeUp
    volunteer: CommitteeVolunteer


class CommitteeBranchPage(Page):
    items: list[CommitteeBranchItem]
    as_of: DayText
    month: MonthText
    required_hours: int = Constraint(description="training.required_hours_per_year")


class SubscribeReportResponse(Answer):
    template_id: str | None
    recorded: Annotated[int, Constraint(ge=0, le=1)]
    ignored: list[str]
    credits: Count


class SubscribeCredits(Answer):
    template_id: str | None
    credits: Count
