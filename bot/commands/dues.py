"""Bot commands for dues: 党费 (own, 情况, 设置, 减免), 收党费, 交党费, 确认/退回/更正党费."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.context import Context
from bot.dispatcher import GROUP_MEMBER, Dispatcher, Handler
from bot.filters import Bound, Command, Filter
from core.clock import local_day
from core.text import split_command, split_head
from handlers import dues as d
from handlers.dues import RELIEF_USAGE, SET_USAGE
from handlers.errors import DomainError
from handlers.pay import pays_online
from models.dues import CATEGORIES

if TYPE_CHECKING:
    from datetime import date

APPROVER_WORDS = ("批准人", "批准")
_MONEY = re.compile(r"[-+−]?¥?[-+−]?\d[\d,]*(?:\.\d*)?元?")
LIST_LIMIT = 20


class DuesSub(Filter):
    """``党费 <sub> …`` or ``党费<sub> …``: ctx.command is the sub word, ctx.args the rest."""

    def __init__(self, *subs: str) -> None:
        self.subs = subs
        words = ("党费",) + tuple("党费" + s for s in subs)
        self.longest_first = sorted(words, key=len, reverse=True)

    def check(self, ctx: Context) -> bool:
        if ctx.incoming.kind != "text":
            return False
        found = split_head(ctx.head, self.longest_first)
        if found is None:
            return False
        word, rest = found
        if word != "党费":
            ctx.command, ctx.args = word[2:], rest
            return True
        inner = split_command(rest, self.subs)
        if inner is None:
            return False
        ctx.command, ctx.args = inner
        return True

    def prefixes(self) -> frozenset[str]:
        return frozenset({"党费"})

    def __repr__(self) -> str:
        return f"DuesSub{self.subs!r}"


def _is_money(token: str) -> bool:
    return bool(_MONEY.fullmatch(unicodedata.normalize("NFKC", token)))


def _amounts(plan: list[tuple[date, int]]) -> str:
    return d.amounts_text(plan)


# ---- a member's own dues --------------------------------------------------------------------


def _mine(ctx: Context) -> str:
    if ctx.args:
        raise DomainError(
            f"没看懂“党费 {ctx.args}”。发送“党费”查看本人党费；书记和党费收缴员可发送"
            "“党费 情况”“党费 设置 …”“党费 减免 …”。"
        )
    member = ctx.member
    if not member.is_party_member:
        return f"您目前是{member.status_label}，暂不需要交纳党费。"
    view = d.member_dues(member, now=ctx.now, settings=ctx.settings)
    book, due = view.book, view.due
    lines = [f"{member.name}同志的党费（{member.branch.name}）"]
    if due.state == "unset":
        lines.append("您的党费类别和工资基数尚未设置，请联系支部书记或党费收缴员。")
        return "\n".join(lines)
    if due.state == "before":
        lines.append(f"您从 {d.month_label(book.start)} 起交纳党费。")
    else:
        a = due.assessment
        what = CATEGORIES[a.category]
        if a.category == "in_service":
            what += f"，税后月工资 {d.fen_to_text(a.base_fen)}"
        elif a.category == "retired":
            what += f"，月离退休费 {d.fen_to_text(a.base_fen)}"
        lines.append(f"类别：{what}（{d.month_label(a.from_month)}起）")
        lines.append(f"本月（{d.month_label(view.month)}）应交：{d.fen_to_text(due.amount_fen)}")
        if due.relief is not None:
            r = due.relief
            how = "免交" if r.kind == "exempt" else f"减交至每月 {d.fen_to_text(r.amount_fen)}"
            lines.append(
                f"困难减免：{d.months_text(d.month_span(r.from_month, r.until_month))} {how}"
                f"（{r.approved_by}批准）"
            )
    if view.paid:
        lines.append(f"已交：{d.months_text(view.paid)}（共 {d.fen_to_text(view.paid_fen)}）")
    else:
        lines.append("已交：无")
    if view.owed:
        months = [m for m, _ in view.owed]
        lines.append(f"欠交：{d.months_text(months)}，共 {len(months)} 个月")
        lines.append(f"合计欠交：{d.fen_to_text(view.owed_fen)}")
    else:
        lines.append("欠交：无")
    if view.pending is not None:
        day = local_day(view.pending.reported_at, ctx.tz)
        lines.append(
            f"待确认：您 {day.month}月{day.day}日 报告的 "
            f"{d.fen_to_text(view.pending.amount_fen)}，等待党费收缴员确认"
        )
    elif view.owed:
        lines.append(f"交纳后可发送“交党费 {d.yuan(view.owed_fen)}”报告，由收缴员确认。")
    if pays_online(member, ctx.settings):  # the way that needs no collector
        lines.append(PAY_HINT)
    lines.append("（以上信息仅您本人可见）")
    return "\n".join(lines)


PAY_HINT = (
    "也可以在小程序“党费”页面用微信支付直接交纳：金额由系统按您的党费计算，"
    "支付成功后自动入账，无需再报告。"
)


def _on_report(ctx: Context) -> str:
    words = ctx.args.split()
    if not words:
        raise DomainError(
            "请写明交纳的金额，例如：交党费 30.00（可加月份：交党费 90.00 2026年1-3月）"
        )
    fen = d.yuan_to_fen(words[0], max_fen=ctx.settings.dues.max_payment_fen)
    months = d.parse_months(" ".join(words[1:]), now=ctx.now, tz=ctx.tz) if words[1:] else None
    report, plan = d.report_payment(ctx.member, fen, months, now=ctx.now, settings=ctx.settings)
    return (
        f"已收到您的报告：{d.fen_to_text(report.amount_fen)}，对应 "
        f"{d.months_text(m for m, _ in plan)}（{_amounts(plan)}）。\n"
        "待党费收缴员确认后计入，确认前可发送“党费”查看。"
    )


# ---- the secretary's and the collector's commands -------------------------------------------


def _status(ctx: Context) -> str:
    view = d.branch_status(ctx.member, ctx.args, now=ctx.now, settings=ctx.settings)
    branch, month = view.branch, view.month
    s = view.summary
    rate = "—" if s.rate is None else f"{s.rate * 100:.1f}%"
    lines = [
        f"{branch.name} {d.month_label(month)}党费",
        f"应收 {d.fen_to_text(s.expected_fen)}，已收 {d.fen_to_text(s.collected_fen)}，"
        f"收缴率 {rate}",
        f"应交 {s.members_due} 人，已交 {s.members_paid} 人；免交 {s.members_exempt} 人；"
        f"未设置类别 {s.members_unset} 人",
    ]
    if view.owing:
        lines.append(f"未交（{len(view.owing)} 人）：")
        for owing in view.owing[:LIST_LIMIT]:
            months = [m for m, _ in owing.months]
            lines.append(
                f"· {owing.name}：欠 {len(months)} 个月（{d.months_text(months)}），"
                f"共 {d.fen_to_text(owing.fen)}"
            )
        if len(view.owing) > LIST_LIMIT:
            lines.append(f"……等 {len(view.owing)} 人")
    else:
        lines.append("本月应交的党员都已交纳。")
    if view.unset:
        lines.append(
            f"未设置类别：{'、'.join(view.unset[:LIST_LIMIT])}。"
            "请发送：党费 设置 姓名 在职 8000.00"
        )
    for name, report in view.pending:
        day = local_day(report.reported_at, ctx.tz)
        lines.append(
            f"待确认：{name} {day.month}月{day.day}日 报告已交 {d.fen_to_text(report.amount_fen)}"
            f"（发送“确认党费 {name}”或“退回党费 {name} 原因”）"
        )
    if view.alerts:
        lines.append("六个月规定提醒：")
        for alert in view.alerts[:LIST_LIMIT]:
            more = "以上" if alert.at_least else ""
            lines.append(
                f"· {alert.member_name}：已连续 {alert.months} 个月{more}{alert.reason_label}"
                f"（自{d.month_label(alert.since)}起）"
            )
    return "\n".join(lines)


def _pay(ctx: Context) -> str:
    words = ctx.args.split()
    usage = (
        f"例如：{d.PAY_EXAMPLE}（不写月份时从最早欠交的月份算起；"
        "自愿交纳：收党费 张三 1000.00 自愿）"
    )
    if len(words) < 2:
        raise DomainError("请写明姓名和金额。" + usage)
    done = d.collect_named(
        ctx.member, words[0], words[1], words[2:], now=ctx.now, settings=ctx.settings
    )
    member, fen = done.member, done.amount_fen
    if done.voluntary is not None:
        whole = (
            f"\n按规定，一次自愿交纳 {d.fen_to_text(ctx.settings.dues.voluntary_whole_fen)}"
            "及以上的党费全额上缴。"
            if done.goes_up_whole
            else ""
        )
        return (
            f"已登记 {member.name} 自愿交纳 {d.fen_to_text(fen)}（记录编号 {done.voluntary.id}），"
            f"单独记账，不计入按月党费。{whole}"
        )
    recorded = done.recorded
    assert recorded is not None
    pid = recorded.payment.id
    return (
        f"已登记：{member.name} {d.months_text(m for m, _ in recorded.months)}党费 "
        f"{d.fen_to_text(fen)}（记录编号 {pid}；{_amounts(recorded.months)}）。\n"
        f"如有误，请发送“更正党费 {pid} 原因”。"
    )


def _confirm(ctx: Context) -> str:
    if not ctx.args:
        raise DomainError("请写明党员姓名，例如：确认党费 张三")
    member, recorded = d.confirm_report(
        ctx.member, ctx.args.split()[0], now=ctx.now, settings=ctx.settings
    )
    pid = recorded.payment.id
    return (
        f"已确认 {member.name} 报告的 {d.fen_to_text(recorded.payment.amount_fen)}："
        f"{d.months_text(m for m, _ in recorded.months)}党费（记录编号 {pid}）。\n"
        f"如有误，请发送“更正党费 {pid} 原因”。"
    )


def _reject(ctx: Context) -> str:
    name, _, reason = ctx.args.partition(" ")
    if not name:
        raise DomainError("请写明党员姓名和原因，例如：退回党费 张三 未收到款项")
    report = d.reject_report(ctx.member, name, reason, now=ctx.now)
    why = f"（{report.decision_note}）" if report.decision_note else ""
    return f"已退回 {name} 报告的 {d.fen_to_text(report.amount_fen)}{why}，未计入党费。"


def _reverse(ctx: Context) -> str:
    match = re.match(r"^(?:编号|记录编号|#)?\s*(\d{1,9})(?:\s+|$)(.*)$", ctx.args, re.S)
    if match is None:
        raise DomainError(
            "请写明要更正的记录编号和原因，例如：更正党费 12 金额登记错误（编号见登记时的回复）"
        )
    done = d.reverse_entry(
        ctx.member, int(match.group(1)), match.group(2), now=ctx.now, settings=ctx.settings
    )
    entry, months, member = done.entry, done.months, done.member
    what = f"{d.months_text(months)}党费" if months else done.original.kind_label
    return (
        f"已作废：{done.described}，{member.name} {what}。"
        f"更正记录编号 {entry.id}，原因：{entry.note}。\n"
        f"如需重新登记，请发送“收党费 {member.name} 金额 月份”。"
    )


def _set(ctx: Context) -> str:
    words = ctx.args.split()
    if len(words) < 2:
        raise DomainError("请写明姓名和党费类别。" + SET_USAGE)
    rest, approver = _approver(words[2:])
    money = [w for w in rest if _is_money(w)]
    month_words = [w for w in rest if not _is_money(w)]
    done = d.set_category_named(
        ctx.member,
        words[0],
        words[1],
        money,
        "".join(month_words),
        approver,
        now=ctx.now,
        settings=ctx.settings,
    )
    member, row, amount, month = done.member, done.row, done.monthly_fen, done.month
    base = f"，税后月收入 {d.fen_to_text(row.base_fen)}" if row.base_fen is not None else ""
    return (
        f"已设置 {member.name}：{row.category_label}{base}，{d.month_label(month)}起每月应交 "
        f"{d.fen_to_text(amount)}。"
    )


def _approver(words: list[str]) -> tuple[list[str], str]:
    """Split off "批准 某某" (or "批准人 某某", "批准：某某"): the other words, and the rest."""
    for index, word in enumerate(words):
        for key in APPROVER_WORDS:
            if word.startswith(key):
                inline = word[len(key) :].lstrip(":：")
                if inline:
                    return words[:index], inline + " " + " ".join(words[index + 1 :])
                return words[:index], " ".join(words[index + 1 :])
    return words, ""


def _relief(ctx: Context) -> str:
    words = ctx.args.split()
    if len(words) < 3:
        raise DomainError("请写明姓名、减免方式和月份。" + RELIEF_USAGE)
    rest, tail = _approver(words[2:])
    approver, _, reason = tail.strip().partition(" ")
    money = [w for w in rest if _is_money(w)]
    month_text = "".join(w for w in rest if not _is_money(w))
    done = d.set_relief_named(
        ctx.member,
        words[0],
        words[1],
        money,
        month_text,
        approver,
        reason,
        now=ctx.now,
        settings=ctx.settings,
    )
    member, row, kind, months = done.member, done.row, done.kind, done.months
    span = d.months_text(months)
    if kind == "cancel":
        return f"已取消 {member.name} {span}的党费减免，这些月份按原标准交纳。"
    how = "免交" if kind == "exempt" else f"减交至每月 {d.fen_to_text(row.amount_fen)}"
    return f"已记录 {member.name} 困难减免：{span} {how}（{row.approved_by}批准）。"


def register(dispatcher: Dispatcher) -> None:
    """Bind the dues commands; the 党费 sub-commands come before plain 党费."""
    # (name, filter, callback, 帮助 line, audience: "collector" = secretary and dues collector)
    cmds: list[tuple[str, Filter, Callable[[Context], str], str, str]] = [
        (
            "dues_status",
            DuesSub("情况", "统计"),
            _status,
            "党费 情况 [月份] — 支部党费收缴情况",
            "collector",
        ),
        ("dues_set", DuesSub("设置"), _set, "党费 设置 姓名 在职 8000.00 [起始月份]", "collector"),
        (
            "dues_relief",
            DuesSub("减免"),
            _relief,
            "党费 减免 姓名 免交 2026年1-12月 批准 某某",
            "collector",
        ),
        ("dues_mine", Command("党费"), _mine, "党费 — 查看本人党费", "member"),
        (
            "dues_report",
            Command("交党费"),
            _on_report,
            "交党费 金额 — 报告已交党费，待收缴员确认",
            "member",
        ),
        ("dues_pay", Command("收党费"), _pay, "收党费 姓名 金额 [月份] — 登记党费", "collector"),
        (
            "dues_confirm",
            Command("确认党费"),
            _confirm,
            "确认党费 姓名 — 确认党员报告的党费",
            "collector",
        ),
        ("dues_reject", Command("退回党费"), _reject, "退回党费 姓名 原因", "collector"),
        (
            "dues_reverse",
            Command("更正党费"),
            _reverse,
            "更正党费 编号 原因 — 作废一条记录",
            "collector",
        ),
    ]
    for name, flt, callback, help_text, audience in cmds:
        dispatcher.add(
            Handler(name, Bound() & flt, callback, help=help_text, audience=audience),
            GROUP_MEMBER,
        )
