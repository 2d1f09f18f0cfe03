"""The compliance calendar as text for the secretary."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.config import Settings
from handlers.calendar.periods import Period, period_of
from handlers.calendar.requirements import SCOPES, Requirement, branch_calendar
from handlers.meetings import day_hm, require_manager
from models.org import Branch, Member

_MARKS = {"ok": "✅", "overdue": "❗", "due_soon": "⏰", "planned": "🗓", "open": "⬜"}
_ORDER = {"month": 0, "quarter": 1, "year": 2}


def _who(req: Requirement) -> str:
    return f"{req.kind_label}（{req.group_name}）" if req.group_name else req.kind_label


def _left(days_left: int) -> str:
    return "今天截止" if days_left == 0 else f"还剩 {days_left} 天"


def without_quorum_text(count: int) -> str:
    """Say that `count` meetings ended without a quorum and so do not count."""
    return f"{count} 次召开但未达法定人数（不计入）"


def quorum_hint(req: Requirement) -> str:
    """What a secretary can do about a meeting held without quorum."""
    who = "支委" if req.kind == "committee" else "有表决权的正式党员"
    return (
        f"须有过半{who}出席，会议才算召开；如有人到会未签到，"
        "请发送“补签 姓名 编号”补录，否则请重新召开。"
    )


def _line(req: Requirement, tz: ZoneInfo) -> list[str]:
    """Render one current requirement, and a note when its previous period was missed."""
    parts = [f"已召开 {req.held} 次"]
    if req.held_without_quorum:
        parts.append("另有 " + without_quorum_text(req.held_without_quorum))
    if req.planned:
        when = f"（最近 {day_hm(req.next_planned, tz)}）" if req.next_planned else ""
        parts.append(f"已安排 {req.planned} 次{when}")
    parts.append("已完成 ✓" if req.satisfied else _left(req.days_left))
    if not req.satisfied and not req.planned:
        parts.append("尚未安排")
    lines = [f"{_MARKS[req.status]} {_who(req)}：" + "，".join(parts)]
    if req.held_without_quorum and not req.satisfied:
        lines.append("    " + quorum_hint(req))
    if req.previous_missed:
        previous = req.period.previous().label
        if req.previous_without_quorum:
            lines.append(f"    上期未开：{previous}的{req.kind_label}未达法定人数")
        else:
            lines.append(f"    上期未开：{previous}没有召开{req.kind_label}")
    return lines


def _section(reqs: list[Requirement], tz: ZoneInfo) -> list[str]:
    """Render current requirements grouped under their period labels, month before year."""
    lines: list[str] = []
    labels: list[Period] = []
    for req in sorted(reqs, key=lambda r: _ORDER[r.period.kind]):
        if req.period not in labels:
            labels.append(req.period)
    for period in labels:
        lines.append(f"【{period.label}】")
        for req in reqs:
            if req.period == period:
                lines.extend(_line(req, tz))
    return lines


def _month_cell(month: date, req: Requirement | None) -> str:
    name = f"{month.month}月"
    if req is None:
        return f"{name} —"  # before the branch used the system: not judged
    if req.satisfied:
        return f"{name} ✓{req.held}次"
    if req.days_left < 0:
        return f"{name} ✗{'未达法定人数' if req.held_without_quorum else '未开'}"
    short = f"（未达法定人数{req.held_without_quorum}次）" if req.held_without_quorum else ""
    planned = f"（已安排{req.planned}次）" if req.planned else ""
    return f"{name} {_left(req.days_left)}{short}{planned}"


def _quarter_months(reqs: list[Requirement], today: date) -> list[str]:
    """Summarize the monthly kinds across the months of the current quarter, one line each."""
    quarter = period_of(today, "quarter")
    months = [date(quarter.start.year, quarter.start.month + i, 1) for i in range(3)]
    rows: dict[tuple[str, int | None], dict[date, Requirement]] = {}
    names: dict[tuple[str, int | None], str] = {}
    for req in reqs:
        key = (req.kind, req.group_id)
        rows.setdefault(key, {})[req.period.start] = req
        names[key] = _who(req)
    lines = [f"【{quarter.label}各月（按月要求的会议）】"]
    for key, by_month in rows.items():
        cells = []
        for month in months:
            if month > today:
                cells.append(f"{month.month}月 未到")
            else:
                cells.append(_month_cell(month, by_month.get(month)))
        lines.append(f"{names[key]}：" + " · ".join(cells))
    return lines


def render_calendar(branch_name: str, reqs: list[Requirement], scope: str, tz: ZoneInfo) -> str:
    """Render 本月 or 本季度 compliance for one branch as the text the secretary reads.

    本月 ("month"): every current requirement, monthly ones first, then the quarterly and
    yearly ones (a quarter or year can end this month, and they are few).
    本季度 ("quarter"): the quarterly and yearly requirements, then one line per monthly kind
    (per group for 党小组会) summarizing the quarter's months; pass the output of
    branch_calendar(..., scope="quarter") so the earlier months are known.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected month|quarter")
    current = [r for r in reqs if r.days_left >= 0]
    if not current:
        return f"{branch_name}：目前没有按期必须召开的会议（各类会议的频次均设为不要求）。"
    today = current[0].period.end - timedelta(days=current[0].days_left)
    title = "本月" if scope == "month" else "本季度"
    lines = [f"{branch_name}{title}组织生活（截至{today.month}月{today.day}日）"]
    if scope == "month":
        lines += _section(current, tz)
    else:
        lines += _section([r for r in current if r.period.kind != "month"], tz)
        monthly = [r for r in reqs if r.period.kind == "month"]
        if monthly:
            lines += _quarter_months(monthly, today)
    due = [r for r in current if r.status in ("overdue", "due_soon")]
    if due:
        lines.append(f"请抓紧落实：{'、'.join(dict.fromkeys(_who(r) for r in due))}。")
    elif all(r.satisfied for r in current):
        lines.append("本期要求的会议均已召开。")
    return "\n".join(lines)


def manager_calendar(actor: Member, now: datetime, settings: Settings, *, scope: str) -> str:
    """本月 or 本季度 for the actor's branch, as the text its manager reads."""
    branch = Branch.get_by_id(actor.branch_id)
    require_manager(actor, branch)
    reqs = branch_calendar(branch.id, now, settings, scope=scope)
    return render_calendar(branch.name, reqs, scope, ZoneInfo(settings.app.timezone))
