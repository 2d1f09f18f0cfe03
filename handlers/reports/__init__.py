"""Reports upward (汇总上报): the monthly report of a branch or a committee, as an Excel workbook.

``month`` gathers the figures from each feature's all-branch functions; ``xlsx`` writes them
through core.tabular. Callers import the public names from ``handlers.reports``.
"""

from handlers.reports.month import (
    BranchMonth,
    MeetingRow,
    Report,
    month_report,
    month_report_named,
    month_weeks,
)
from handlers.reports.xlsx import report_bytes, write_report, yuan

__all__ = [
    "BranchMonth",
    "MeetingRow",
    "Report",
    "month_report",
    "month_report_named",
    "month_weeks",
    "report_bytes",
    "write_report",
    "yuan",
]
