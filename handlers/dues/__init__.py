"""Dues (党费): amounts by the 2008 table, the ledger, the views, and the six-month rule.

Rules (DOMAIN.md; where it and the issue are silent, decided here):

- Money is integer fen. A monthly amount is the whole base at its bracket's rate
  (``[dues] in_service_rates`` / ``retired_rates``), computed with Decimal and rounded half-up
  to the fen. Farmers pay the amount the branch set for them (``farmer_min_fen`` to
  ``farmer_max_fen``); students, the unemployed and members on relief or 低保 pay
  ``student_fen``; the ``exempt`` category pays nothing.
- A member's category and base are a history (DuesAssessment): for a month, the row with the
  latest ``from_month`` not after it applies, and among rows of the same month the newest.
  A base that would give 0 fen a month is refused (use the 0.2-yuan category instead).
- Hardship relief (DuesRelief) covers ``from_month``..``until_month``; for a month the newest row
  covering it decides: ``reduce`` (pay the reduced amount, never more than the table's),
  ``exempt`` (nothing due) or ``cancel`` (no relief). Reduce and exempt name who approved them.
- Who owes: members whose status is 预备 or 正式 (models.org.PARTY_MEMBER_STATUSES). A member owes
  from their **start month**: the first month of their first assessment (the month the branch
  began keeping their dues here), but not before the month of ``Member.joined_on``. For a
  预备党员, joined_on (入党日期) is by the party's own definition the day the branch general
  meeting accepted them, so they owe from that month. No assessment means no amount is known:
  the member is listed as "未设置" and never counted as owing.
- A month is **paid** when a live (not reversed) DuesMonth row covers it, **exempt** when nothing
  is due, **owed** when something is due, it is not after the current month and it is unpaid.
  Months after the current one may be paid in advance up to ``prepay_max_months``; earlier
  months (back to the start month) may always be paid. A month paid at the old amount stays
  paid when the base later changes retroactively.
- A payment states its months, or takes the oldest unpaid months (then months ahead) whose
  amounts add up to exactly the sum paid; the sum must equal the months' dues to the fen.
  Anything more is a separate voluntary payment (自愿交纳, no months; at or above
  ``voluntary_whole_fen`` it goes upward whole and says so).
- The ledger is append-only: a mistake is corrected by a reversal entry (更正党费 编号) that
  frees the months, then a new payment. (member, month, seq) is unique in DuesMonth, where seq
  is the number of earlier, reversed, payments of that month: of two collectors recording the
  same month at once one wins, the other is shown the winning entry.
- A member's own report (交党费) is checked like a payment and waits, one at a time, until a
  collector confirms it (it becomes a payment) or sends it back.
- Collected for a month means dues paid *for* that month, whenever they were paid, counted in
  the member's current branch.

The six-month rule (党章 第九条), per member, counted back from the last complete month:

- Dues: consecutive owed months. A paid, exempt (an approved reason) or not-yet-owing month
  ends the run.
- Meetings: consecutive months with at least one meeting the member was expected at, held
  (scheduled, ended) and attended by none of them. A month with approved leave for any of its
  meetings ends the run (an approved reason); a month in which the member was expected at no
  meeting is skipped (the member could not attend), neither counting nor ending the run.
- The current month is not over, so it never adds to a run; but paying for it or attending a
  meeting in it ends the run (count 0).
- Runs are looked for ``lookback_months`` back; a run reaching that far is reported "at least".
- lapse_alerts returns every member at ``alert_first_months`` (3) or more, with the level
  reached (3, 5 or 6+), per reason; a member can appear once for each reason.

All-branch functions (branch_month_summary, lapse_alerts) run a fixed number of queries
whatever the number of branches and members.

The package, one module per concern (no module imports a later one):
money (fen, the rate tables) → months → book (a member's months, judged without queries) →
access (who may act, finding members) → loaders (books from the database) → bulk (the engine of
the all-branch views: bit masks over raw driver rows, reads on worker threads) → bases
(categories, bases, relief) → planning → payments → report (a member's own report) → owing →
lapse (the six-month rule) → views → imports (files) → entries, actions (the API's use cases)
and commands (the bot's and the CLI's, in the words typed).
Callers import the public names from ``handlers.dues``.
"""

from handlers.dues.access import (
    DUES_ROLES,
    PAY_EXAMPLE,
    SET_EXAMPLE,
    can_collect,
    find_member,
    require_collector,
    require_party_member,
)
from handlers.dues.actions import (
    Collected,
    MyDues,
    collect,
    confirm_report_id,
    my_dues,
    reject_report_id,
    report_own_payment,
    reverse_payment_id,
)
from handlers.dues.bases import (
    NewAssessment,
    add_assessments,
    already_recorded,
    assessment_histories,
    check_assessment,
    set_assessment,
    set_relief,
)
from handlers.dues.book import (
    Book,
    Due,
    live_payments,
)
from handlers.dues.bulk import (
    gc_paused,
    side_reads,
)
from handlers.dues.commands import (
    RELIEF_USAGE,
    RELIEF_WORDS,
    SET_USAGE,
    CategorySet,
    Collection,
    ReliefSet,
    Reversal,
    UnknownCommittee,
    alerts_named,
    branch_status,
    collect_named,
    committee_named,
    import_assessments_file,
    import_payments_file,
    reverse_entry,
    set_category_named,
    set_relief_named,
    summary_named,
)
from handlers.dues.entries import (
    Entries,
    Reports,
    branch_entries,
    branch_reports,
    entry_details,
    hidden,
    report_details,
    visible_member,
)
from handlers.dues.imports import (
    CATEGORY_CHOICES,
    CATEGORY_WORDS,
    VOLUNTARY_WORDS,
    DuesImportError,
    ImportResult,
    category_of,
    cell_month,
    check_payments,
    import_assessments,
    import_payments,
)
from handlers.dues.lapse import (
    REASONS,
    LapseAlert,
    LapseCount,
    lapse_alerts,
    lapse_counts,
    member_lapse,
    owing_and_lapse_alerts,
    owing_and_lapse_alerts_started,
)
from handlers.dues.loaders import (
    load_book,
)
from handlers.dues.money import (
    MoneyError,
    Settings,
    fen_to_text,
    monthly_amount,
    yuan,
    yuan_to_fen,
)
from handlers.dues.months import (
    add_months,
    amounts_text,
    month_label,
    month_span,
    months_text,
    parse_months,
    parse_one_month,
    this_month,
)
from handlers.dues.owing import (
    MemberOwing,
    all_owing,
)
from handlers.dues.payments import (
    Recorded,
    goes_up_whole,
    record_payment,
    record_voluntary,
    reverse_payment,
)
from handlers.dues.planning import (
    DuplicateMonth,
    describe_entry,
    plan_payment,
)
from handlers.dues.report import (
    confirm_report,
    confirm_report_row,
    pending_report,
    reject_report,
    reject_report_row,
    report_payment,
)
from handlers.dues.views import (
    BranchDues,
    BranchMonthSummary,
    MemberDues,
    Owing,
    branch_dues,
    branch_month_summary,
    member_dues,
    month_summary_and_lapse_alerts,
    month_summary_and_lapse_alerts_started,
    month_summary_and_owing,
)
from models.dues import BASED_CATEGORIES

__all__ = [
    "BASED_CATEGORIES",
    "Book",
    "BranchDues",
    "BranchMonthSummary",
    "CATEGORY_CHOICES",
    "CATEGORY_WORDS",
    "CategorySet",
    "Collected",
    "Collection",
    "DUES_ROLES",
    "Due",
    "DuesImportError",
    "DuplicateMonth",
    "Entries",
    "ImportResult",
    "LapseAlert",
    "LapseCount",
    "MemberDues",
    "MemberOwing",
    "MoneyError",
    "MyDues",
    "NewAssessment",
    "Owing",
    "PAY_EXAMPLE",
    "REASONS",
    "RELIEF_USAGE",
    "RELIEF_WORDS",
    "Recorded",
    "ReliefSet",
    "Reports",
    "Reversal",
    "SET_EXAMPLE",
    "SET_USAGE",
    "Settings",
    "UnknownCommittee",
    "VOLUNTARY_WORDS",
    "add_assessments",
    "add_months",
    "alerts_named",
    "all_owing",
    "already_recorded",
    "amounts_text",
    "assessment_histories",
    "branch_dues",
    "branch_entries",
    "branch_month_summary",
    "branch_reports",
    "branch_status",
    "can_collect",
    "category_of",
    "cell_month",
    "check_assessment",
    "check_payments",
    "collect",
    "collect_named",
    "committee_named",
    "confirm_report",
    "confirm_report_id",
    "confirm_report_row",
    "describe_entry",
    "entry_details",
    "fen_to_text",
    "find_member",
    "gc_paused",
    "goes_up_whole",
    "hidden",
    "import_assessments",
    "import_assessments_file",
    "import_payments",
    "import_payments_file",
    "lapse_alerts",
    "lapse_counts",
    "live_payments",
    "load_book",
    "member_dues",
    "member_lapse",
    "month_label",
    "month_span",
    "month_summary_and_lapse_alerts",
    "month_summary_and_lapse_alerts_started",
    "month_summary_and_owing",
    "monthly_amount",
    "months_text",
    "my_dues",
    "owing_and_lapse_alerts",
    "owing_and_lapse_alerts_started",
    "parse_months",
    "parse_one_month",
    "pending_report",
    "plan_payment",
    "record_payment",
    "record_voluntary",
    "reject_report",
    "reject_report_id",
    "reject_report_row",
    "report_details",
    "report_own_payment",
    "report_payment",
    "require_collector",
    "require_party_member",
    "reverse_entry",
    "reverse_payment",
    "reverse_payment_id",
    "set_assessment",
    "set_category_named",
    "set_relief",
    "set_relief_named",
    "side_reads",
    "summary_named",
    "this_month",
    "visible_member",
    "yuan",
    "yuan_to_fen",
]
