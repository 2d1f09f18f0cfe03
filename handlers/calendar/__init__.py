"""Compliance calendar: which required meetings each branch held, planned or still owes.

Rules (DOMAIN.md, 三会一课 table; frequencies from the [meetings] settings):

- Each kind with ``frequency_<kind>`` = month, quarter or year is required once per period of
  that frequency; ``none`` means not required. ``group`` (党小组会) is required per party group
  of the branch and only meetings naming that group count; a branch without groups owes none.
- Periods are calendar months, quarters and years in the branch time zone (``app.timezone``):
  a meeting belongs to the period that holds its local start day.
- A meeting **counts as held** when it is scheduled (not cancelled), its start is inside the
  period and it has ended by the given moment (``ends_at <= at``). A scheduled meeting of the
  period that has not ended yet (later in the period, or in progress) is **planned**: shown, but
  it does not satisfy the requirement yet. Cancelled meetings count for nothing.
- Quorum: a 党员大会 (``general``) or 支委会 (``committee``) counts as held only when more than
  half of its voting members were present (handlers.meetings: is_voter, quorum_needed, the
  rule the 会议 情况 report shows). One that ended without is **held without quorum**
  (``held_without_quorum``): shown, and it does not satisfy the requirement. Attendance is
  judged from the record: an ended meeting with nobody recorded present (sign-in never opened,
  attendance kept on paper) or with no voter on its list is held without quorum too, since the
  record cannot tell it from a meeting nobody came to; the text asks the secretary to 补签 those
  who were there, which also keeps the six-month rule right. Quorum is not judged before the
  meeting ends (it is planned until then), so late sign-ins and 补签 still count.
- ``days_left`` is ``period.end - today`` in calendar days: 0 on the last day of the period.
- ``previous_missed``: the previous period of the same frequency ended with nothing held. A
  branch is only judged for periods it was in the system from the first day (its ``created_at``
  local day is on or before the period start), so a newly imported branch is not flagged for
  meetings held before it used the system.
- ``status`` of a current requirement, first match wins: ``ok`` (satisfied), ``overdue`` (not
  satisfied and the previous period was missed), ``due_soon`` (not satisfied and
  ``days_left <= due_soon_days``), ``planned`` (not satisfied, something planned), ``open``
  (nothing held or planned yet, time left). A past period (``days_left < 0``, only returned for
  the 本季度 view) is ``ok`` or ``overdue`` (missed).

Every function here runs a fixed number of SQL queries (branches, groups, and one aggregated
query over meetings), whatever the number of branches.
"""

from handlers.calendar.periods import FREQUENCIES, Period, period_of
from handlers.calendar.render import (
    manager_calendar,
    quorum_hint,
    render_calendar,
    without_quorum_text,
)
from handlers.calendar.requirements import (
    DUE,
    SCOPES,
    Requirement,
    all_branches_calendar,
    all_branches_due,
    branch_calendar,
    required_kinds,
)

__all__ = [
    "DUE",
    "FREQUENCIES",
    "SCOPES",
    "Period",
    "Requirement",
    "all_branches_calendar",
    "all_branches_due",
    "branch_calendar",
    "manager_calendar",
    "period_of",
    "quorum_hint",
    "render_calendar",
    "required_kinds",
    "without_quorum_text",
]
