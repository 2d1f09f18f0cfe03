"""The monthly dues reminder: progress to each branch group, a note to each debtor."""

from __future__ import annotations

from datetime import date, datetime

from core.config import Settings
from handlers.outbox import Outgoing
from handlers.reminders.common import local_zone
from models.outbox import BranchChannel


def dues_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    """The monthly dues reminder: the month's progress to each group, a note to each debtor."""
    from handlers.dues import gc_paused

    with gc_paused():  # tens of thousands of rows: the collector's passes are pure cost
        return _dues_reminders(now, settings)


def _dues_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    from handlers.dues import fen_to_text, month_summary_and_owing, months_text, this_month

    month = this_month(now, local_zone(settings))
    period = f"{month:%Y-%m}"
    # channelled_branches' ids, without 2,000 Branch objects
    channelled = {b for (b,) in BranchChannel.select(BranchChannel.branch).tuples()}
    # branch_month_summary(month) and all_owing(now), from one load of the members' dues
    summaries, all_owing = month_summary_and_owing(now, settings)
    rows = []
    for summary in summaries:
        if summary.branch_id not in channelled or not summary.members_due:
            continue
        text = (
            f"【党费提醒】{month.year}年{month.month}月党费请及时交纳。"
            f"本支部应交 {summary.members_due} 人，已交 {summary.members_paid} 人，"
            f"已收 {fen_to_text(summary.collected_fen)}，"
            f"应收 {fen_to_text(summary.expected_fen)}。"
            "交纳后可在公众号发送“交党费 金额”报告，由收缴员确认。"
        )
        rows.append(
            Outgoing(
                "dues_reminder",
                "branch",
                summary.branch_id,
                period,
                {"text": text, "title": "党费提醒"},
                summary.branch_id,
            )
        )
    shown: dict[tuple[date, ...], str] = {}  # months_text: most debtors owe the same few runs
    for owing in all_owing:
        months = tuple([m for m, _ in owing.months])
        if (listed := shown.get(months)) is None:
            listed = shown[months] = months_text(months)
        text = (
            f"{owing.name}同志，您有 {len(months)} 个月党费待交"
            f"（{listed}），共 {fen_to_text(owing.fen)}。"
            "请联系党费收缴员交纳，或交纳后发送“交党费 金额”。"
        )
        rows.append(
            Outgoing(
                "dues_personal",
                "member",
                owing.member_id,
                period,
                {"text": text, "title": "党费提醒"},
                owing.branch_id,
            )
        )
    return rows
