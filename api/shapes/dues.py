"""Shapes of the dues routes (api/dues.py). Money is integer fen; months are "YYYY-MM"."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field as Constraint

from api.shapes import (
    ISO_MONTH,
    Answer,
    Bool,
    Fen,
    Id,
    Int,
    Limit,
    Month,
    MonthText,
    Offset,
    OneLine,
    Page,
    Raw,
    Request,
    TimeText,
)
from api.shapes.v1 import Branch
from models.dues import CATEGORIES, PAYMENT_KINDS, PAYMENT_SOURCES, REPORT_STATUSES

# Ledger entries shown on GET /dues/me (newest first; the rest stays with the collector).
RECENT_ENTRIES = 20
# Months one request may name.
MAX_MONTHS = 120
# Above any configured payment cap, below a 32-bit column: the handler refuses with its cap.
MAX_FEN = 2_000_000_000
NOTE_CHARS = 200

# A month's state for a member (handlers.dues.Book.state).
MONTH_STATES: dict[str, str] = {
    "paid": "已交",
    "owed": "未交",
    "exempt": "免交",
    "ahead": "未到期",
    "before": "尚未开始交纳",
    "unset": "未设置党费类别",
    "none": "无需交纳",
}

Amount = Annotated[Int(1, MAX_FEN), Constraint(description="Fen (分).")]
Note = OneLine(NOTE_CHARS, required=False)
Reason = OneLine(NOTE_CHARS)
# A list of months, checked by the view (api.dues): sorted, unique, maybe contiguous.
MONTHS_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "pattern": ISO_MONTH},
    "minItems": 1,
    "maxItems": MAX_MONTHS,
    "uniqueItems": True,
}
Months = Raw(MONTHS_SCHEMA)
AmountText = Annotated[str, Constraint(description='Display amount, e.g. "120.00元".')]
MonthState = Literal[tuple(MONTH_STATES)]  # type: ignore[valid-type]
ReportStatus = Literal[tuple(REPORT_STATUSES)]  # type: ignore[valid-type]
PaymentKind = Literal[tuple(PAYMENT_KINDS)]  # type: ignore[valid-type]


# ---- requests --------------------------------------------------------------------------------


class DuesReportRequest(Request):
    months: Months | None = None
    amount_fen: Amount
    note: Note | None = None


class DuesPaymentRequest(Request):
    months: Months | None = Constraint(
        default=None, description="Omit for the oldest unpaid months; never with voluntary."
    )
    member_id: Id
    kind: OneLine(128, required=False, choices=("dues", "voluntary")) | None = Constraint(
        default=None, json_schema_extra={"default": "dues"}
    )
    amount_fen: Amount
    note: Note | None = None


class DuesReasonRequest(Request):
    reason: Reason


class DuesConfirmRequest(Request):
    """Confirming a report takes no fields."""


BRANCH_ID = "Committee admins: the branch to act for (default: the caller's own)."


class DuesBranchQuery(Request):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    month: Month | None = Constraint(
        default=None, description="YYYY-MM; default the current month."
    )
    owing: Bool | None = Constraint(
        default=None,
        description="true: only members owing something; false: only the others.",
    )
    limit: Limit | None = Constraint(default=None, description="default 20")
    offset: Offset | None = None


class DuesReportsQuery(Request):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    status: OneLine(128, required=False, choices=tuple(REPORT_STATUSES)) | None = Constraint(
        default=None,
        description="Default pending (oldest first); decided ones come newest first.",
    )
    limit: Limit | None = Constraint(default=None, description="default 20")
    offset: Offset | None = None


class DuesPaymentsQuery(Request):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    member_id: Id | None = Constraint(
        default=None, description="Only this member's entries (a member of the branch)."
    )
    kind: OneLine(128, required=False, choices=tuple(PAYMENT_KINDS)) | None = None
    limit: Limit | None = Constraint(default=None, description="default 20")
    offset: Offset | None = None


# ---- answers ---------------------------------------------------------------------------------


class DuesPerson(Answer):
    id: int
    name: str


class DuesMonthAmount(Answer):
    month: MonthText
    amount_fen: Fen
    amount_text: AmountText


class DuesEntry(Answer):
    """One ledger entry (append-only: a mistake gets a reversal entry)."""

    id: int
    member: DuesPerson
    kind: PaymentKind
    kind_label: str
    amount_fen: int = Constraint(description="Fen; negative for a reversal.")
    amount_text: AmountText
    months: list[DuesMonthAmount]
    source: Literal[tuple(PAYMENT_SOURCES)]  # type: ignore[valid-type]
    source_label: str
    note: str
    report_id: int | None
    reverses: int | None = Constraint(description="The entry a reversal cancels.")
    reversed_by: int | None = Constraint(description="The reversal cancelling it.")
    recorded_by: DuesPerson | None
    recorded_at: TimeText


class DuesReport(Answer):
    """A member's own report of a payment, waiting for a collector."""

    id: int
    member: DuesPerson
    amount_fen: Fen
    amount_text: AmountText
    months: list[MonthText] | None = Constraint(
        description="null: the oldest unpaid months, chosen on confirmation."
    )
    note: str
    status: ReportStatus
    status_label: str
    reported_at: TimeText
    decided_by: DuesPerson | None
    decided_at: TimeText | None
    decision_note: str
    payment_id: int | None


class DuesCategory(Answer):
    code: Literal[tuple(CATEGORIES)]  # type: ignore[valid-type]
    label: str
    from_month: MonthText
    base_fen: Fen | None
    base_text: AmountText | None


class DuesRelief(Answer):
    kind: Literal["reduce", "exempt"]
    kind_label: str
    amount_fen: Fen | None
    amount_text: AmountText | None
    from_month: MonthText
    until_month: MonthText
    approved_by: str


class DuesMe(Answer):
    member: DuesPerson
    branch: Branch
    status: str
    status_label: str
    month: MonthText = Constraint(description="The current month.")
    month_state: MonthState
    month_state_label: str
    monthly_fen: Fen | None = Constraint(description="This month's dues; null if not set.")
    monthly_text: AmountText | None
    category: DuesCategory | None
    relief: DuesRelief | None
    start_month: MonthText | None
    prepay_until: MonthText | None = Constraint(description="The last month payable in advance.")
    paid_months: list[MonthText] = Constraint(
        description="Months paid, from January of this year on (advance included)."
    )
    paid_fen: Fen
    paid_text: AmountText
    owed: list[DuesMonthAmount] = Constraint(
        description="Every unpaid month through this one, earlier years included."
    )
    owed_fen: Fen
    owed_text: AmountText
    pending_report: DuesReport | None
    recent: list[DuesEntry] = Constraint(
        max_length=RECENT_ENTRIES, description=f"The newest {RECENT_ENTRIES} ledger entries."
    )


class DuesReportCreated(Answer):
    report: DuesReport
    months: list[DuesMonthAmount] = Constraint(
        description="The months the report covers, as checked now."
    )


class DuesBranchSummary(Answer):
    expected_fen: Fen
    expected_text: AmountText
    collected_fen: Fen
    collected_text: AmountText
    rate: float | None
    rate_text: str
    members_due: int
    members_paid: int
    members_owing: int
    members_exempt: int
    members_unset: int


class DuesAlert(Answer):
    member: DuesPerson
    reason: Literal["dues", "meetings"]
    reason_label: str
    months: int
    at_least: bool
    level: int
    since: MonthText


class DuesBranchMember(Answer):
    id: int
    name: str
    status: str
    status_label: str
    month_state: MonthState
    month_state_label: str
    month_due_fen: Fen | None
    month_due_text: AmountText | None
    month_paid_fen: Fen | None
    month_paid_text: AmountText | None
    owed: list[DuesMonthAmount]
    owed_fen: Fen
    owed_text: AmountText


class DuesBranchMemberPage(Page):
    items: list[DuesBranchMember]


class DuesBranch(Answer):
    branch: Branch
    month: MonthText
    summary: DuesBranchSummary
    pending_reports: int
    alerts: list[DuesAlert]
    members: DuesBranchMemberPage


class DuesReportPage(Page):
    items: list[DuesReport]


class DuesEntryPage(Page):
    items: list[DuesEntry]


class DuesConfirmed(Answer):
    report: DuesReport
    payment: DuesEntry


class DuesRejected(Answer):
    report: DuesReport


class DuesPaymentCreated(Answer):
    payment: DuesEntry
    goes_up_whole: bool = Constraint(
        description="A voluntary payment large enough to go upward whole."
    )


class DuesReversed(Answer):
    reversal: DuesEntry
    original: DuesEntry
