"""我的: a member's own week of study, meetings, attendance and dues — theirs alone."""

from __future__ import annotations

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command
from handlers.dues import MemberDues, fen_to_text
from handlers.meetings import describe
from handlers.profile import member_summary
from handlers.volunteer import hours_text

WEEKDAYS = "一二三四五六日"


def mine_text(ctx: Context) -> str:
    """Render the member's own summary."""
    member = ctx.member
    summary = member_summary(member, now=ctx.now, settings=ctx.settings)
    week = summary.week
    marks = " ".join(
        f"{WEEKDAYS[i]}{'✓' if done else '·'}" for i, done in enumerate(week.days_checked)
    )
    lines = [
        f"{member.name}同志（{member.branch.name} · {member.status_label}）",
        f"本周学习打卡：{week.days_count} 天",
        marks,
        f"连续学习：{week.streak} 天；累计打卡：{week.total} 次",
        f"本季度参会：{summary.attended}/{summary.held} 次",
    ]
    if summary.dues is not None:
        lines.append(_dues_line(summary.dues))
    if summary.training is not None:
        t = summary.training
        mark = "，已达标" if not t.below else ""
        lines.append(f"{t.year}年学时：{t.hours:g}/{t.required_hours} 学时{mark}")
    if summary.volunteer_minutes:
        lines.append(f"本年志愿服务：已确认 {hours_text(summary.volunteer_minutes)}")
    if summary.soon:
        lines.append("即将参加的会议：")
        lines += [describe(m, ctx.tz) for m in summary.soon]
    lines.append("（以上信息仅您本人可见）")
    return "\n".join(lines)


def _dues_line(view: MemberDues) -> str:
    if view.due.state == "unset":
        return "党费：类别和基数尚未设置（发送“党费”查看详情）"
    owed = (
        f"，待交 {len(view.owed)} 个月共 {fen_to_text(view.owed_fen)}" if view.owed else "，已交清"
    )
    return f"党费：本月应交 {fen_to_text(view.due.amount_fen)}{owed}"


def register(dispatcher: Dispatcher) -> None:
    """Bind 我的."""
    dispatcher.add(
        Handler(
            "mine", Bound() & Command("我的"), mine_text, help="我的 — 查看本周学习和参会情况"
        ),
        GROUP_MEMBER,
    )
