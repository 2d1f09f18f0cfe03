"""Development reminders: a personal note to each branch secretary ahead of the deadlines of
the people their branch is developing (the talk, the next review, the end of probation, and
the day an activist may be proposed as a development object)."""

from __future__ import annotations

from datetime import date, datetime

from core.clock import local_day
from core.config import Settings
from handlers.development import Ahead, day_text, deadlines_ahead
from handlers.outbox import Outgoing
from handlers.reminders.common import local_zone, manager_ids

HOW = "登记请在控制台“发展党员”页面或小程序中进行。"


def _left(due: date, today: date) -> str:
    days = (due - today).days
    return "今天到期" if days == 0 else f"还剩 {days} 天"


def ahead_text(found: Ahead, today: date, settings: Settings) -> str:
    """The reminder's words for one deadline."""
    since = day_text(found.since) if found.since else "（未登记）"
    due, left = day_text(found.due), _left(found.due, today)
    if found.step == "talk":
        body = f"{found.name}于 {since} 递交入党申请，应在 {due} 前（{left}）派人谈话。"
    elif found.step == "review":
        body = (
            f"{found.name}应在 {due} 前（{left}）进行培养考察（上次考察：{since}），"
            f"每 {settings.development.review_every_months} 个月考察一次。"
        )
    elif found.step == "full":
        body = f"{found.name}的预备期将于 {due} 期满（{left}），请准备召开支部党员大会讨论其转正。"
    else:
        months = settings.development.activist_min_months
        body = (
            f"{found.name}于 {since} 确定为入党积极分子，{due} 满 {months} 个月，"
            "届时可按程序讨论列为发展对象。"
        )
    return f"【发展党员】{body}\n{HOW}"


def development_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    """One note to the secretary (else deputy, else organizer) of the person's branch per
    deadline within its lead time; keyed by person, step and due day, so it is sent once."""
    today = local_day(now, local_zone(settings))
    found = deadlines_ahead(today, settings)
    if not found:
        return []
    managers = manager_ids({a.branch_id for a in found})
    rows = []
    for item in found:
        secretary_id = managers.get(item.branch_id)
        if secretary_id is None:
            continue
        rows.append(
            Outgoing(
                "development_due",
                "member",
                secretary_id,
                f"{item.member_id}:{item.step}:{item.due.isoformat()}",
                {"text": ahead_text(item, today, settings), "title": "发展党员提醒"},
                item.branch_id,
            )
        )
    return rows
