"""Bot commands for meetings: 会议, 修改会议, 取消会议, 开始签到, 签到, 补签, 请假, scans."""

from __future__ import annotations

import re

from bot.commands.binding import BIND_HELP
from bot.context import Context
from bot.dispatcher import GROUP_EVENTS, GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command, Filter
from core.datetext import DateTextError, parse_when
from handlers import calendar
from handlers import meetings as m
from handlers.errors import DomainError
from models.meetings import KINDS

# What secretaries type for each kind, longest first when matching.
KIND_WORDS: dict[str, str] = {
    "支部党员大会": "general",
    "党员大会": "general",
    "大会": "general",
    "支部委员会会议": "committee",
    "支部委员会": "committee",
    "支委会议": "committee",
    "支委会": "committee",
    "党小组会议": "group",
    "党小组会": "group",
    "小组会": "group",
    "党课": "lesson",
    "主题党日": "theme_day",
    "党日": "theme_day",
    "组织生活会": "life_meeting",
    "生活会": "life_meeting",
    "民主评议党员": "appraisal",
    "民主评议": "appraisal",
    "其他会议": "other",
    "其他": "other",
}
EXAMPLE = "会议 党课 12月3日 15:00 三楼会议室 学习党章"
KIND_CHOICES = "党员大会、支委会、党小组会、党课、主题党日、组织生活会、民主评议、其他"


class Scene(Filter):
    """An event carrying a meeting QR scene (SCAN, or subscribe with qrscene_)."""

    def check(self, ctx: Context) -> bool:
        return ctx.incoming.kind == "event" and ctx.incoming.scene.startswith(m.SCENE_PREFIX)


def _leading_id(args: str) -> tuple[int | None, str]:
    """Split "12 出差" into (12, "出差"); "编号12" works too; no number → (None, args)."""
    match = re.match(r"^(?:编号|#|No\.?)?\s*(\d{1,9})(?:\s+|$)(.*)$", args, re.S)
    if match:
        return int(match.group(1)), match.group(2).strip()
    return None, args


def _trailing_id(args: str) -> tuple[str, int | None]:
    """Split "张三 编号12" or "张三 12" into ("张三", 12)."""
    match = re.match(r"^(.*?)\s+(?:编号)?\s*(\d{1,9})$", args.strip(), re.S)
    if match:
        return match.group(1).strip(), int(match.group(2))
    return args.strip(), None


def _kind(args: str) -> tuple[str, str]:
    for word in sorted(KIND_WORDS, key=len, reverse=True):
        if args.startswith(word):
            return KIND_WORDS[word], args[len(word) :].strip()
    first = args.split()[0] if args.split() else args
    raise DomainError(f"没有识别出会议类型“{first}”。可选：{KIND_CHOICES}。\n例如：{EXAMPLE}")


def _when(text: str, ctx: Context) -> object:
    try:
        return parse_when(
            text,
            now=ctx.now,
            tz=ctx.tz,
            default_minutes=ctx.settings.meetings.default_duration_minutes,
        )
    except DateTextError as exc:
        raise DomainError(exc.message) from None


def _create(ctx: Context) -> str:
    kind, rest = _kind(ctx.args)
    done = m.schedule_from_text(ctx.member, kind, rest, now=ctx.now, settings=ctx.settings)
    meeting, group = done.meeting, done.group
    opens, _ = m.signin_window(meeting, ctx.settings)
    lines = [
        f"已安排会议【编号{meeting.id}】",
        f"类型：{KINDS[kind]}" + (f"（{group.name}）" if group else ""),
        f"时间：{done.understood}",
        f"地点：{done.place or '（未填）'}",
        f"主题：{done.title or '（未填）'}",
        f"应到：{done.expected} 人",
        f"如有误，请发送“修改会议 {meeting.id} 时间 12月4日 15:00”（或 地点、主题），"
        f"或“取消会议 {meeting.id}”。",
        f"{m.day_hm(opens, ctx.tz)} 起可发送“开始签到”获取签到码。",
    ]
    return "\n".join(lines)


def _list(ctx: Context) -> str:
    soon = m.upcoming(ctx.member.branch_id, ctx.now)
    if not soon:
        return f"{ctx.member.branch.name}近期没有安排会议。安排会议示例：{EXAMPLE}"
    return "近期会议：\n" + "\n".join(m.describe(x, ctx.tz) for x in soon)


def _report(ctx: Context, meeting_id: int | None) -> str:
    named = m.branch_meeting_report(ctx.member, meeting_id, now=ctx.now, settings=ctx.settings)
    meeting, r = named.meeting, named.report

    def names(members: list) -> str:
        return "、".join(x.name for x in members) or "无"

    def with_reason(rows: list) -> str:
        return "、".join(f"{x.name}（{reason}）" for x, reason in rows) or "无"

    roles = [
        f"{label}：{name}"
        for label, name in (("主持人", named.host), ("记录人", named.recorder))
        if name
    ]
    lines = [
        m.describe(meeting, ctx.tz) + ("（已取消）" if meeting.status == "cancelled" else ""),
        *(["，".join(roles)] if roles else []),
        f"应到 {len(r.expected)} 人，实到 {len(r.present)} 人，出席率 {r.rate:.0%}",
        f"已签到：{names(r.present)}",
        f"请假（已批准）：{with_reason(r.leave_approved)}",
    ]
    if r.leave_pending:
        lines.append(f"请假待批：{with_reason(r.leave_pending)}")
    if r.leave_rejected:
        lines.append(f"请假未批准：{with_reason(r.leave_rejected)}")
    if meeting.minutes or meeting.decisions:
        lines.append(
            f"纪要：{'已记录' if meeting.minutes else '未记录'}；决议：{meeting.decisions or '无'}"
        )
    label = "缺席" if r.ended else "未签到"
    lines.append(f"{label}：{names(r.not_signed)}")
    if r.quorum_needed is not None:
        who = "支委" if meeting.kind == "committee" else "有表决权的正式党员"
        verdict = "符合" if r.quorum_met else "不足，会议决议无效"
        lines.append(
            f"法定人数：{who}应到过半（至少 {r.quorum_needed} 人），"
            f"实到 {r.quorum_present} 人，{verdict}。"
        )
    return "\n".join(lines)


def _on_meeting(ctx: Context) -> str:
    args = ctx.args
    if not args:
        return _list(ctx)
    if args.startswith("情况"):
        meeting_id, _ = _leading_id(args[2:].strip())
        return _report(ctx, meeting_id)
    return _create(ctx)


def _on_edit(ctx: Context) -> str:
    meeting_id, rest = _leading_id(ctx.args)
    usage = "例如：修改会议 12 时间 12月4日 15:00（或：修改会议 12 地点 二楼会议室）"
    if meeting_id is None or not rest:
        raise DomainError("请写明会议编号和要改的内容。" + usage)
    field_name, _, value = rest.partition(" ")
    value = value.strip()
    kwargs: dict[str, object] = {}
    if field_name in ("时间", "日期"):
        when = _when(value, ctx)
        kwargs.update(start=when.start, end=when.end)
    elif field_name in ("地点", "会议室"):
        kwargs["place"] = value
    elif field_name in ("主题", "标题"):
        kwargs["title"] = value
    elif field_name in ("主持人", "主持"):
        kwargs["host"] = value
    elif field_name in ("记录人", "记录员"):
        kwargs["recorder"] = value
    elif field_name in ("纪要", "会议记录", "记录"):
        kwargs["minutes"] = value
    elif field_name in ("决议", "决定"):
        kwargs["decisions"] = value
    else:
        raise DomainError(
            f"不能修改“{field_name}”，可以修改：时间、地点、主题、主持人、记录人、纪要、决议。"
            + usage
        )
    meeting = m.edit_meeting(ctx.member, meeting_id, now=ctx.now, settings=ctx.settings, **kwargs)
    return "已修改：" + m.describe(meeting, ctx.tz) + "\n已记录的签到和请假保持不变。"


def _on_cancel(ctx: Context) -> str:
    meeting_id, _ = _leading_id(ctx.args)
    if meeting_id is None:
        raise DomainError("请写明要取消的会议编号，例如：取消会议 12（发送“会议”查看编号）")
    meeting = m.cancel_meeting(ctx.member, meeting_id, now=ctx.now, tz=ctx.tz)
    return "已取消：" + m.describe(meeting, ctx.tz) + "\n已记录的签到和请假保留备查。"


def _on_open(ctx: Context) -> str:
    meeting_id, _ = _leading_id(ctx.args)
    meeting = m.open_signin(ctx.member, meeting_id, now=ctx.now, settings=ctx.settings)
    _, closes = m.signin_window(meeting, ctx.settings)
    qr = f"\n扫码签到：{meeting.qr_url}" if meeting.qr_url else ""
    return (
        f"{m.describe(meeting, ctx.tz)}\n签到码：{meeting.signin_code}"
        f"（{m.hm(closes, ctx.tz)} 前有效）\n请参会党员发送“签到 {meeting.signin_code}”。{qr}\n"
        "会后发送“会议 情况”查看出席情况，未签到的可发送“补签 姓名”。"
    )


def _signed(ctx: Context, result: m.SignIn) -> str:
    when = m.hm(result.attendance.at, ctx.tz)
    if not result.created:
        return f"您已于 {when} 签到，无需重复签到。\n{m.describe(result.meeting, ctx.tz)}"
    return f"签到成功！{m.describe(result.meeting, ctx.tz)}\n签到时间：{when}"


def _on_signin(ctx: Context) -> str:
    if not ctx.args:
        raise DomainError("请在“签到”后加上书记公布的签到码，例如：签到 123456")
    try:
        result = m.sign_in_with_code(ctx.member, ctx.args, now=ctx.now, settings=ctx.settings)
    except m.WrongSigninCode as exc:  # counted; the refusal is a reply, not a rollback
        return exc.in_chat
    return _signed(ctx, result)


def _on_scan(ctx: Context) -> str:
    if ctx.member is None:
        meeting = m.remember_scan(
            ctx.incoming.openid, ctx.incoming.scene, now=ctx.now, settings=ctx.settings
        )
        note = ""
        if meeting is not None:
            _, closes = m.signin_window(meeting, ctx.settings)
            note = (
                f"\n绑定后将自动为您签到：{m.describe(meeting, ctx.tz)}"
                f"（{m.hm(closes, ctx.tz)} 前绑定有效）"
            )
        return "欢迎关注！\n" + BIND_HELP + note
    result = m.sign_in_by_scene(ctx.member, ctx.incoming.scene, now=ctx.now, settings=ctx.settings)
    return _signed(ctx, result)


def _on_mark(ctx: Context) -> str:
    name, meeting_id = _trailing_id(ctx.args)
    result = m.mark_present(ctx.member, name, meeting_id, now=ctx.now, settings=ctx.settings)
    if not result.created:
        return f"{name} 已于 {m.hm(result.attendance.at, ctx.tz)} 签到，无需补签。"
    return f"已为 {name} 补签：{m.describe(result.meeting, ctx.tz)}（由您补签，已记录）"


def _on_leave(ctx: Context) -> str:
    meeting_id, reason = _leading_id(ctx.args)
    row = m.ask_leave(ctx.member, reason, meeting_id, now=ctx.now, settings=ctx.settings)
    return (
        f"已提交请假：{m.describe(row.meeting, ctx.tz)}\n原因：{row.leave_reason}\n"
        "等待书记或组织委员批准。"
    )


def _decide(ctx: Context, approve: bool) -> str:
    name, meeting_id = _trailing_id(ctx.args)
    row = m.decide_leave(ctx.member, name, approve, meeting_id, now=ctx.now, settings=ctx.settings)
    verb = "已批准" if approve else "已驳回"
    return f"{verb} {name} 的请假：{m.describe(row.meeting, ctx.tz)}\n原因：{row.leave_reason}"


def _calendar(ctx: Context, scope: str) -> str:
    return calendar.manager_calendar(ctx.member, ctx.now, ctx.settings, scope=scope)


def _month(ctx: Context) -> str:
    return _calendar(ctx, "month")


def _quarter(ctx: Context) -> str:
    return _calendar(ctx, "quarter")


def _approve(ctx: Context) -> str:
    return _decide(ctx, True)


def _reject(ctx: Context) -> str:
    return _decide(ctx, False)


MEETING_HELP = f"{EXAMPLE} — 安排会议；“会议”看列表；“会议 情况”看出席"


def register(dispatcher: Dispatcher) -> None:
    """Bind the meeting commands; the scan handler must come before the plain follow handler."""
    dispatcher.add(Handler("meeting_scan", Scene(), _on_scan, audience=""), GROUP_EVENTS)
    # (name, command words, callback, 帮助 line, audience)
    member_cmds = [
        ("signin", ("签到",), _on_signin, "签到 签到码 — 会议签到", "member"),
        ("leave", ("请假",), _on_leave, "请假 原因 — 向即将召开的会议请假", "member"),
        ("meeting", ("会议",), _on_meeting, MEETING_HELP, "manager"),
        ("meeting_edit", ("修改会议",), _on_edit, "修改会议 编号 时间/地点/主题 …", "manager"),
        ("meeting_cancel", ("取消会议",), _on_cancel, "取消会议 编号", "manager"),
        ("signin_open", ("开始签到",), _on_open, "开始签到 — 获取签到码", "manager"),
        ("signin_mark", ("补签",), _on_mark, "补签 姓名 — 为参会人员补签", "manager"),
        (
            "leave_approve",
            ("批准请假",),
            _approve,
            "批准请假 姓名 — 批准待审批的请假（有多个会议时加编号）",
            "manager",
        ),
        (
            "leave_reject",
            ("驳回请假", "不批准请假"),
            _reject,
            "驳回请假 姓名 — 驳回待审批的请假（有多个会议时加编号）",
            "manager",
        ),
        ("calendar_month", ("本月",), _month, "本月 — 本月组织生活完成情况", "manager"),
        ("calendar_quarter", ("本季度",), _quarter, "本季度 — 本季度完成情况", "manager"),
    ]
    for name, words, callback, help_text, audience in member_cmds:
        dispatcher.add(
            Handler(name, Bound() & Command(*words), callback, help=help_text, audience=audience),
            GROUP_MEMBER,
        )
