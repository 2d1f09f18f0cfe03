"""党员志愿服务 (周六扶贫日 and other days): members log their service by the bot (志愿 2小时
社区清扫) or the mini-program, the branch's managers confirm it or send it back with a reason,
and confirmed hours are counted per branch and month for the monthly report and the committee.

The package re-exports its public names: ``from handlers import volunteer``.
"""

from handlers.volunteer.base import (
    EXAMPLE,
    day_text,
    hours_number,
    hours_text,
    parse_minutes,
)
from handlers.volunteer.decisions import (
    REJECTED_KIND,
    BranchEntries,
    EntryView,
    branch_entries,
    confirm_entry,
    describe,
    reject_entry,
)
from handlers.volunteer.entries import (
    Logged,
    MyEntries,
    Totals,
    log_by_message,
    log_service,
    my_entries,
    year_confirmed_minutes,
)
from handlers.volunteer.totals import BranchService, BranchShare, month_service, month_share

__all__ = [
    "EXAMPLE",
    "REJECTED_KIND",
    "BranchEntries",
    "BranchService",
    "BranchShare",
    "EntryView",
    "Logged",
    "MyEntries",
    "Totals",
    "branch_entries",
    "confirm_entry",
    "day_text",
    "describe",
    "hours_number",
    "hours_text",
    "log_by_message",
    "log_service",
    "month_service",
    "month_share",
    "my_entries",
    "parse_minutes",
    "reject_entry",
    "year_confirmed_minutes",
]
