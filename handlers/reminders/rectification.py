"""Rectification reminders: a personal note to each owner of an item due soon."""

from __future__ import annotations

from datetime import datetime

from core.clock import local_day
from core.config import Settings
from handlers.outbox import Outgoing
from handlers.rectification import day_text, due_items, short
from handlers.reminders.common import local_zone


def rectification_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    """One note per owner of every item not done whose deadline is remind_first_days or
    remind_last_days away; keyed by item and day, so a second run that day adds nothing."""
    day = local_day(now, local_zone(settings))
    cfg = settings.rectification
    rows = []
    for due in due_items(day, (cfg.remind_first_days, cfg.remind_last_days)):
        item = due.item
        left = "明天" if due.days == 1 else f"{due.days} 天后"
        measure = f"\n整改措施：{short(item.measure, 60)}" if item.measure else ""
        verifier = "党委" if item.raised_by == "committee" else "书记"
        for member_id, name in due.owners:
            text = (
                f"{name}同志，您负责的整改事项【编号{item.number}】{item.kind_label}将于"
                f"{left}（{day_text(item.deadline)}）到期。\n问题：{short(item.problem, 60)}"
                f"{measure}\n完成后请发送“完成 {item.number} 完成情况”，由{verifier}验收。"
            )
            rows.append(
                Outgoing(
                    "rectification_due",
                    "member",
                    member_id,
                    f"{item.id}:{day.isoformat()}",
                    {"text": text, "title": "整改提醒"},
                    item.branch_id,
                )
            )
    return rows
