"""The monthly report as an Excel workbook: one sheet per subject, in Chinese, printable on A4.

Every sheet has a frozen, bold header row (repeated on each printed page), set column widths,
totals rows where figures add up, and money as yuan with 2 decimals (computed from integer fen
with Decimal). The workbook's times are the month's first day, so the same records give the
same bytes. Cells go through core.tabular (safe_cell), so a name typed like a formula stays text.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import IO, Any

from core.tabular import Sheet, write_workbook
from handlers.assessment import LABELS, CommitteeAssessment
from handlers.calendar import Requirement
from handlers.reminders import StudyRate
from handlers.reports.month import BranchMonth, Report

MONEY = "#,##0.00"
RATE = "0.0%"
HOURS = "0.0"
STATUS = {
    "ok": "已完成",
    "overdue": "已逾期",
    "due_soon": "即将到期",
    "planned": "已安排",
    "open": "未召开",
}


def yuan(fen: int) -> Decimal:
    """Integer fen as yuan, exact to the fen: 12345 → Decimal("123.45")."""
    return Decimal(fen).scaleb(-2)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def hours(minutes: int) -> Decimal:
    """Minutes as hours to one decimal: 90 → Decimal("1.5")."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.1"), ROUND_HALF_UP)


def write_report(report: Report, target: IO[bytes]) -> None:
    """Write the report's workbook to a binary file."""
    sheets = [_summary(report), _study(report), _requirements(report), _meetings(report)]
    sheets += [_dues(report), _volunteer(report), _training(report)]
    if report.named:
        sheets.append(_people(report))
    if report.assessment is not None:
        sheets.append(_assessment(report.assessment))
    write_workbook(target, sheets, created=datetime(report.year, report.month, 1))


def report_bytes(report: Report) -> bytes:
    """The report's workbook as bytes (a download)."""
    out = io.BytesIO()
    write_report(report, out)
    return out.getvalue()


# ---- 汇总 ---------------------------------------------------------------------------------

SUMMARY_HEADER = (
    "支部",
    "党员人数",
    "学习参与人数",
    "学习参与率",
    "学习打卡次数",
    "要求召开的会议",
    "已达标",
    "本月召开会议",
    "应交党费（元）",
    "实交党费（元）",
    "欠交党费（元）",
    "自愿交纳（元）",
    "六个月规则提醒（人）",
    "失联党员（人）",
    "预备期将满（人）",
    "志愿服务（小时）",
    "志愿服务（人）",
    "学时未达标（人）",
)


def _summary_numbers(b: BranchMonth) -> list[int]:
    dues = b.dues
    return [
        b.study.members,
        b.study.participants,
        b.study.checkins,
        len(b.requirements),
        sum(1 for r in b.requirements if r.satisfied),
        len(b.meetings),
        dues.expected_fen if dues else 0,
        dues.collected_fen if dues else 0,
        b.owed_fen,
        b.voluntary_fen,
        b.lapse_members,
        len(b.lost),
        len(b.probation),
        b.volunteer.minutes,
        b.volunteer.people,
        b.training.below,
    ]


def _summary_row(name: str, n: list[int]) -> list[Any]:
    members, participants, checkins, required, done, held = n[:6]
    money = [yuan(fen) for fen in n[6:10]]
    share = _rate(participants, members)
    people = [*n[10:13], hours(n[13]), *n[14:]]
    return [name, members, participants, share, checkins, required, done, held, *money, *people]


def _summary(report: Report) -> Sheet:
    numbers = [_summary_numbers(b) for b in report.branches]
    totals = [sum(column) for column in zip(*numbers, strict=True)] if numbers else [0] * 16
    return Sheet(
        "汇总",
        SUMMARY_HEADER,
        [_summary_row(b.name, n) for b, n in zip(report.branches, numbers, strict=True)],
        widths=[24, 10, 12, 12, 12, 14, 8, 12, 14, 14, 14, 14, 18, 14, 14, 16, 14, 16],
        formats={3: RATE, 8: MONEY, 9: MONEY, 10: MONEY, 11: MONEY, 15: HOURS},
        totals=[_summary_row("合计", totals)],
        landscape=True,
    )


# ---- 学习 ---------------------------------------------------------------------------------


def _study_row(name: str, label: str, span: str, rate: StudyRate) -> list[Any]:
    share = _rate(rate.participants, rate.members)
    return [name, label, span, rate.members, rate.participants, share, rate.checkins]


def _study_rows(report: Report) -> Iterator[list[Any]]:
    spans = [f"{_day(a)}至{_day(b)}" for a, b in report.weeks]
    whole = f"{_day(report.weeks[0][0])}至{_day(report.weeks[-1][1])}"
    for b in report.branches:
        for number, (span, rate) in enumerate(zip(spans, b.weeks, strict=True), start=1):
            yield _study_row(b.name, f"第{number}周", span, rate)
        yield _study_row(b.name, "全月", whole, b.study)


def _study(report: Report) -> Sheet:
    totals = []
    if len(report.branches) > 1:  # a branch's own rows are its totals
        labels = [f"第{n}周" for n in range(1, len(report.weeks) + 1)] + ["全月"]
        columns = [[*b.weeks, b.study] for b in report.branches]
        for index, label in enumerate(labels):
            rates = [column[index] for column in columns]
            added = StudyRate(*(sum(getattr(r, k) for r in rates) for k in _STUDY_FIELDS))
            totals.append(_study_row("合计", label, "", added))
    return Sheet(
        "学习",
        ("支部", "周次", "起止日期", "党员人数", "参与人数", "参与率", "打卡次数"),
        _study_rows(report),
        widths=[24, 8, 20, 10, 10, 10, 10],
        formats={5: RATE},
        totals=totals,
    )


_STUDY_FIELDS = ("members", "participants", "checkins")


# ---- 会议 ---------------------------------------------------------------------------------


def _status(report: Report, r: Requirement) -> str:
    """The requirement's status; one whose period ended with the month unmet is 未完成."""
    if report.complete and not r.satisfied and r.period.end <= report.weeks[-1][1]:
        return "未完成"
    return STATUS.get(r.status, r.status)


def _requirements(report: Report) -> Sheet:
    rows = [
        [
            b.name + (f"（{r.group_name}）" if r.group_name else ""),
            r.kind_label,
            r.period.label,
            r.held,
            r.held_without_quorum,
            r.planned,
            "是" if r.satisfied else "否",
            _status(report, r),
        ]
        for b in report.branches
        for r in b.requirements
    ]
    return Sheet(
        "会议要求",
        ("支部", "会议类别", "周期", "已召开", "未达法定人数", "已安排", "是否达标", "状态"),
        rows,
        widths=[28, 16, 16, 8, 14, 8, 10, 10],
        totals=[["合计", "", "", *(sum(r[i] for r in rows) for i in (3, 4, 5)), "", ""]],
    )


def _meetings(report: Report) -> Sheet:
    rows = []
    for b in report.branches:
        for m in b.meetings:
            share = _rate(m.present, m.expected)
            rows.append(
                [b.name, _day(m.day), m.kind_label, m.title, m.expected, m.present, m.leave]
                + [m.absent, share]
            )
    sums = [sum(r[i] or 0 for r in rows) for i in (4, 5, 6, 7)]
    return Sheet(
        "会议记录",
        ("支部", "日期", "会议类别", "主题", "应到", "实到", "请假", "缺席", "出席率"),
        rows,
        widths=[24, 10, 16, 30, 8, 8, 8, 8, 10],
        formats={8: RATE},
        totals=[["合计", f"{len(rows)}次", "", "", *sums, _rate(sums[1], sums[0])]],
        landscape=True,
    )


# ---- 党费 ---------------------------------------------------------------------------------


def _dues_numbers(b: BranchMonth) -> list[int]:
    d = b.dues
    counts = [d.members_due, d.members_paid, d.members_exempt, d.members_unset] if d else [0] * 4
    fen = [d.expected_fen, d.collected_fen] if d else [0, 0]
    return [*counts, *fen, b.owed_fen, b.voluntary_fen]


def _dues_row(name: str, n: list[int]) -> list[Any]:
    expected, collected = n[4], n[5]
    money = [yuan(fen) for fen in n[4:7]]
    return [name, *n[:4], *money, _rate(collected, expected), yuan(n[7])]


def _dues(report: Report) -> Sheet:
    numbers = [_dues_numbers(b) for b in report.branches]
    totals = [sum(column) for column in zip(*numbers, strict=True)] if numbers else [0] * 8
    return Sheet(
        "党费",
        (
            "支部",
            "应交人数",
            "已交人数",
            "免交人数",
            "未设置人数",
            "应交（元）",
            "实交（元）",
            "欠交（元）",
            "收缴率",
            "自愿交纳（元）",
        ),
        [_dues_row(b.name, n) for b, n in zip(report.branches, numbers, strict=True)],
        widths=[24, 10, 10, 10, 12, 14, 14, 14, 10, 16],
        formats={5: MONEY, 6: MONEY, 7: MONEY, 8: RATE, 9: MONEY},
        totals=[_dues_row("合计", totals)],
        landscape=True,
    )


# ---- 志愿服务 and 学时: counts per branch, never people ----------------------------------------


def _volunteer(report: Report) -> Sheet:
    numbers = [
        [b.volunteer.minutes, b.volunteer.people, b.volunteer.entries] for b in report.branches
    ]
    totals = [sum(column) for column in zip(*numbers, strict=True)] if numbers else [0] * 3
    return Sheet(
        "志愿服务",
        ("支部", "服务时长（小时）", "参加人数", "服务次数"),
        [[b.name, hours(n[0]), n[1], n[2]] for b, n in zip(report.branches, numbers, strict=True)],
        widths=[24, 16, 10, 10],
        formats={1: HOURS},
        totals=[["合计", hours(totals[0]), totals[1], totals[2]]],
    )


def _training_row(name: str, members: int, minutes: int, below: int) -> list[Any]:
    average = hours(round(minutes / members)) if members else None
    return [name, members, hours(minutes), average, below, _rate(below, members)]


def _training(report: Report) -> Sheet:
    numbers = [[b.training.members, b.training.minutes, b.training.below] for b in report.branches]
    totals = [sum(column) for column in zip(*numbers, strict=True)] if numbers else [0] * 3
    return Sheet(
        "学时",
        (
            "支部",
            "党员人数",
            f"{report.year}年累计学时（截至{_day(report.as_of)}）",
            "人均学时",
            f"未达{report.required_hours}学时（人）",
            "未达标比例",
        ),
        [_training_row(b.name, *n) for b, n in zip(report.branches, numbers, strict=True)],
        widths=[24, 10, 26, 10, 16, 12],
        formats={2: HOURS, 3: HOURS, 5: RATE},
        totals=[_training_row("合计", *totals)],
    )


# ---- 人员提醒 (a branch's report only) ---------------------------------------------------------


def _people(report: Report) -> Sheet:
    rows: list[list[Any]] = []
    for b in report.branches:
        for a in b.lapse:
            more = "以上" if a.at_least else ""
            rows.append(
                [
                    a.member_name,
                    f"六个月规则：{a.reason_label}",
                    f"自{a.since.year}年{a.since.month}月起连续{a.months}个月{more}",
                ]
            )
        for _, name in b.lost:
            rows.append([name, "失联党员", f"超过{report.lost_contact_days}天没有任何联系记录"])
        for _, name, ends in b.probation:
            rows.append([name, "预备期将满", f"{ends.isoformat()}预备期满，请讨论转正"])
    return Sheet(
        "人员提醒",
        ("姓名", "事项", "说明"),
        rows or [["（无）", "", ""]],
        widths=[16, 28, 44],
    )


# ---- 星级评定 ------------------------------------------------------------------------------


def _assessment(view: CommitteeAssessment) -> Sheet:
    """The branches ranked by their assessment score, each criterion's figures and rate."""
    shown = [k for k, w in view.weights.items() if w]
    header = [
        "名次",
        "支部",
        "得分",
        "星级",
        *(f"{LABELS[k]}（权重{view.weights[k]}）" for k in shown),
    ]
    rows = []
    for s in view.rows:
        parts = {p.name: p for p in s.parts}
        cells = [parts[k].summary for k in shown]
        rows.append([s.rank, s.branch_name, s.score, s.stars_label, *cells])
    return Sheet(
        "星级评定",
        header,
        rows,
        widths=[6, 24, 8, 8, *([22] * len(shown))],
        formats={2: "0.0"},
        landscape=True,
    )
