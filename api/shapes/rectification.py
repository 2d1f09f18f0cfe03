"""Shapes of the rectification routes (api/rectification.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict
from pydantic import Field as Constraint

from api.shapes import (
    Answer,
    Bool,
    Day,
    DayText,
    Id,
    MultiLine,
    OneLine,
    Page,
    PageQuery,
    Request,
    TimeText,
)
from api.shapes.branch import BRANCH_ID
from handlers.rectification import OWNER_ROLES
from models.rectification import LIST_KINDS, NOTE_KINDS, RAISERS, SOURCES, STATUSES

MOVES = ("in_progress", "done")

Kind = Literal[tuple(LIST_KINDS)]  # type: ignore[valid-type]
Source = Literal[tuple(SOURCES)]  # type: ignore[valid-type]
Status = Literal[tuple(STATUSES)]  # type: ignore[valid-type]
NoteKind = Literal[tuple(NOTE_KINDS)]  # type: ignore[valid-type]
Raiser = Literal[tuple(RAISERS)]  # type: ignore[valid-type]

KindChoice = OneLine(12, choices=tuple(LIST_KINDS))
SourceChoice = OneLine(16, choices=tuple(SOURCES))
StatusChoice = OneLine(16, required=False, choices=tuple(STATUSES))
RoleChoice = OneLine(24, required=False, choices=tuple(OWNER_ROLES))
Problem = MultiLine(max_len_setting="rectification.problem_max_chars", required=True)
Measure = MultiLine(max_len_setting="rectification.measure_max_chars")
NoteText = MultiLine(max_len_setting="rectification.note_max_chars", required=True)
Reason = MultiLine(max_len_setting="rectification.note_max_chars")

KIND_TEXT = "problem 问题清单, task 任务清单, duty 责任清单"
SOURCE_TEXT = "inspection 上级检查, patrol 巡察, life_meeting 组织生活会, self_check 自查"
OWNER_TEXT = "The owner: owner_id (a member of the branch) or owner_role (a branch role), not both"


# ---- requests --------------------------------------------------------------------------------


class RectificationListQuery(PageQuery):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    status: StatusChoice | None = None
    kind: OneLine(12, required=False, choices=tuple(LIST_KINDS)) | None = None
    overdue: Bool | None = Constraint(
        default=None, description="true: only items past their deadline and not done"
    )


class RectificationMineQuery(PageQuery):
    status: StatusChoice | None = None


class RectificationCreateRequest(Request):
    kind: KindChoice = Constraint(description=KIND_TEXT)
    source: SourceChoice = Constraint(description=SOURCE_TEXT)
    problem: Problem
    measure: Measure | None = None
    owner_id: Id | None = Constraint(default=None, description=OWNER_TEXT)
    owner_role: RoleChoice | None = Constraint(default=None, description=OWNER_TEXT)
    deadline: Day
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


class RectificationEditRequest(Request):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    kind: KindChoice | None = None
    source: SourceChoice | None = None
    problem: Problem | None = None
    measure: Measure | None = None
    owner_id: Id | None = Constraint(default=None, description=OWNER_TEXT)
    owner_role: RoleChoice | None = Constraint(default=None, description=OWNER_TEXT)
    deadline: Day | None = None


class RectificationNoteRequest(Request):
    text: NoteText


class RectificationStatusRequest(Request):
    status: OneLine(16, choices=MOVES)
    note: Reason | None = Constraint(
        default=None, description="Required for done: what was done, the evidence"
    )


class RectificationVerifyRequest(Request):
    approve: Bool
    reason: Reason | None = Constraint(
        default=None, description="Required when refusing: why it goes back to in_progress"
    )


class RectificationDoneRequest(Request):
    note: NoteText = Constraint(description="What was done, the evidence")


# ---- answers ---------------------------------------------------------------------------------


class RectificationPerson(Answer):
    id: int
    name: str


class RectificationOwner(Answer):
    member: RectificationPerson | None
    role: str | None = Constraint(description="A branch role: every member holding it owns it")
    role_label: str | None
    label: str


class Rectification(Answer):
    id: int
    number: int = Constraint(description="编号, per branch: what people see and type")
    branch_id: int
    kind: Kind
    kind_label: str
    source: Source
    source_label: str
    problem: str
    measure: str
    owner: RectificationOwner
    deadline: DayText
    days_left: int = Constraint(description="Negative once the deadline passed")
    overdue: bool
    status: Status
    status_label: str
    raised_by: Raiser = Constraint(description="branch, or committee (its admins verify it)")
    created_at: TimeText
    done_at: TimeText | None
    verified_at: TimeText | None
    verified_by: RectificationPerson | None


class RectificationPage(Page):
    items: list[Rectification]


class RectificationNote(Answer):
    id: int
    item_id: int
    kind: NoteKind
    kind_label: str
    text: str
    at: TimeText
    author: RectificationPerson | None


class RectificationDetail(Rectification):
    notes: list[RectificationNote]
    can_change: bool
    can_verify: bool
    is_owner: bool
