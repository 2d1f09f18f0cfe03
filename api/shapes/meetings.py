"""Shapes of the meeting routes (api/meetings.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict
from pydantic import Field as Constraint

from api.shapes import (
    Answer,
    Bool,
    Count,
    DayText,
    Id,
    Ids,
    Int,
    MultiLine,
    OneLine,
    Page,
    PageQuery,
    Rate,
    Request,
    Time,
    TimeText,
)
from models.meetings import KINDS

STATUS_LABELS = {"scheduled": "已安排", "cancelled": "已取消"}
# The caller's attendance at a meeting.
STATES = ("present", "leave_pending", "leave_approved", "leave_rejected", "none")
METHODS = ("code", "qr", "manual", "api")
MAX_DURATION_MINUTES = 24 * 60
MAX_MARK = 200  # member ids in one 补签 request

Kind = Literal[tuple(KINDS)]  # type: ignore[valid-type]
Method = Literal[METHODS]  # type: ignore[valid-type]
LeaveStatus = Literal["pending", "approved", "rejected"]
Duration = Int(1, MAX_DURATION_MINUTES)
Line200 = OneLine(200, required=False)
MinutesText = MultiLine(max_len_setting="meetings.minutes_max_chars")
DecisionsText = MultiLine(max_len_setting="meetings.decisions_max_chars")
# Sign-in by code or scene: a blank one is refused by the view, after "exactly one of them".
SHOWN_NON_EMPTY = Constraint(json_schema_extra={"minLength": 1})
SigninCode = Annotated[OneLine(32, required=False), SHOWN_NON_EMPTY]
SigninScene = Annotated[OneLine(64, required=False), SHOWN_NON_EMPTY]


# ---- requests --------------------------------------------------------------------------------


class MeetingListQuery(PageQuery):
    branch_id: Id | None = Constraint(default=None, description="A branch the caller manages.")


class MeetingSigninRequest(Request):
    """Exactly one of code (read out by the secretary) or scene (scanned)."""

    code: SigninCode | None = None
    scene: SigninScene | None = None


class MeetingLeaveRequest(Request):
    reason: OneLine(200)


class MeetingCreateRequest(Request):
    kind: OneLine(20, choices=tuple(KINDS))
    title: Line200 | None = None
    place: Line200 | None = None
    starts_at: Time
    ends_at: Time | None = Constraint(
        default=None, description="Or duration_minutes; default from settings."
    )
    duration_minutes: Duration | None = None
    host_id: Id | None = None
    recorder_id: Id | None = None
    group_id: Id | None = Constraint(default=None, description="Required for kind group.")
    branch_id: Id | None = Constraint(
        default=None, description="Committee admins: another branch to act for."
    )


class MeetingEditRequest(Request):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    title: Line200 | None = None
    place: Line200 | None = None
    starts_at: Time | None = None
    ends_at: Time | None = None
    duration_minutes: Duration | None = None
    host_id: Id | None = None
    recorder_id: Id | None = None
    minutes: MinutesText | None = None
    decisions: DecisionsText | None = None


class MeetingMarkRequest(Request):
    member_ids: Ids(MAX_MARK)


class MeetingDecisionRequest(Request):
    approve: Bool


# ---- answers ---------------------------------------------------------------------------------


class MeetingPerson(Answer):
    id: int
    name: str


class MeetingGroup(Answer):
    id: int
    name: str


class MeetingSummary(Answer):
    id: int
    branch_id: int
    kind: Kind
    kind_label: str
    title: str
    place: str
    starts_at: TimeText
    ends_at: TimeText
    status: Literal[tuple(STATUS_LABELS)]  # type: ignore[valid-type]
    status_label: str
    group: MeetingGroup | None
    expected: bool = Constraint(description="Whether the caller is expected to attend.")
    my_state: Literal[STATES] = Constraint(  # type: ignore[valid-type]
        description="The caller's attendance: present, on leave (and the decision), none."
    )


class MeetingPage(Page):
    items: list[MeetingSummary]


class SigninWindow(Answer):
    opens_at: TimeText
    closes_at: TimeText
    open: bool


class MyAttendance(Answer):
    at: TimeText | None = Constraint(description="When I signed in or asked leave.")
    method: Method | None
    leave_reason: str | None


class MeetingDetail(MeetingSummary):
    host: MeetingPerson | None
    recorder: MeetingPerson | None
    expected_count: Count
    signin: SigninWindow
    mine: MyAttendance
    can_manage: bool
    minutes: str | None = Constraint(description="Only for those who manage the branch.")
    decisions: str | None = Constraint(description="Only for those who manage the branch.")


class MeetingAttendance(Answer):
    id: int
    meeting_id: int
    member: MeetingPerson
    status: Literal["present", "leave"]
    method: Method | None
    at: TimeText
    recorded_by: MeetingPerson | None = Constraint(description="Who recorded a 补签.")
    leave_reason: str | None
    leave_status: LeaveStatus | None
    decided_by: MeetingPerson | None


class MeetingSigninResponse(Answer):
    created: bool
    meeting: MeetingSummary
    attendance: MeetingAttendance


class MeetingLeaveResponse(Answer):
    meeting: MeetingSummary
    attendance: MeetingAttendance


class Quarter(Answer):
    start: DayText
    attended: Count
    held: Count
    rate: Rate | None = Constraint(description="null when none was held")


class MeetingMine(MeetingPage):
    quarter: Quarter


class MeetingQr(Answer):
    ticket: str
    url: str
    expires_at: TimeText


class MeetingSigninCode(Answer):
    meeting: MeetingSummary
    code: str = Constraint(pattern=r"^\d+$")
    opens_at: TimeText
    closes_at: TimeText
    qr: MeetingQr | None = Constraint(
        description="null when WeChat could not make it now; the code still works."
    )


class MarkedAttendance(Answer):
    created: bool
    attendance: MeetingAttendance


class MeetingMarkResponse(Answer):
    meeting: MeetingSummary
    items: list[MarkedAttendance]


class ReportPresent(Answer):
    id: int
    name: str
    method: Method | None
    at: TimeText


class MeetingReportLeave(Answer):
    id: int
    name: str
    reason: str


class Quorum(Answer):
    voters: Literal["committee", "full_members"]
    needed: Annotated[int, Constraint(ge=1)]
    present: Count
    met: bool


class MeetingReport(Answer):
    meeting: MeetingSummary
    ended: bool
    expected_count: Count
    present_count: Count
    rate: Rate
    present: list[ReportPresent]
    leave_approved: list[MeetingReportLeave]
    leave_pending: list[MeetingReportLeave]
    leave_rejected: list[MeetingReportLeave]
    absent: list[MeetingPerson] = Constraint(
        description="Not signed in (absent once the meeting ended), pending or rejected "
        "leave included."
    )
    quorum: Quorum | None = Constraint(description="For general and committee meetings only.")


class MeetingLeave(Answer):
    id: int
    meeting_id: int
    member: MeetingPerson
    reason: str
    status: LeaveStatus
    asked_at: TimeText
    decided_by: MeetingPerson | None


class MeetingLeaves(Answer):
    meeting: MeetingSummary
    pending: list[MeetingLeave]
    decided: list[MeetingLeave]
