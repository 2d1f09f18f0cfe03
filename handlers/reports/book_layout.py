"""The record book's text, laid out once as blocks that the .docx and .pdf writers both render,
so the two files always say the same thing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from handlers.calendar.periods import Period
from handlers.reports.book import BookMeeting, BookRequirement, RecordBook

NOT_RECORDED = "（未填写）"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int  # 0: the title, 1: a part, 2: a meeting, 3: within a meeting


@dataclass(frozen=True)
class Paragraph:
    text: str
    muted: bool = False  # a note rather than recorded text


@dataclass(frozen=True)
class Table:
    header: Sequence[str]  # empty: a label/value table with no header row
    rows: Sequence[Sequence[str]]
    widths: Sequence[int] = field(default_factory=tuple)  # relative column widths


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Paragraph | Table | PageBreak


def _day(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _names(names: Sequence[str]) -> str:
    return "、".join(names) if names else "无"


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def periods_text(periods: Sequence[Period]) -> str:
    """Periods of one year, short: 1—3月、5月; 第2、3季度; 全年."""
    if not periods:
        return "无"
    kind = periods[0].kind
    if kind == "year":
        return "全年"
    if kind == "quarter":
        return "第" + "、".join(str((p.start.month - 1) // 3 + 1) for p in periods) + "季度"
    runs = _runs([p.start.month for p in periods])
    return "、".join(f"{a}月" if a == b else f"{a}—{b}月" for a, b in runs)


def _requirement_row(req: BookRequirement) -> list[str]:
    kind = f"{req.kind_label}（{req.group_name}）" if req.group_name else req.kind_label
    missed = periods_text(req.missed)
    if req.open_period:
        missed += f"；{periods_text([req.open_period])}进行中"
    return [kind, req.frequency_label, str(req.due), str(req.met), str(req.held), missed]


def front_page(book: RecordBook) -> list[Block]:
    """The title, required against held, and the minutes still to complete."""
    span = f"{book.year}年度" if book.complete else f"{book.year}年1月1日至{_day(book.as_of)}"
    blocks: list[Block] = [
        Heading(f"{book.branch_name}组织生活记录本", 0),
        Paragraph(f"{book.committee_name}　{book.branch_name}"),
        Paragraph(f"记录期间：{span}"),
        Paragraph("本记录本根据 zhibu 中登记的会议、签到、请假和会议记录生成。", muted=True),
        Heading("一、会议要求完成情况", 1),
    ]
    if book.requirements:
        header = ("会议类型", "频率", "应召开", "已达标", "已召开", "未召开的期间")
        rows = [_requirement_row(r) for r in book.requirements]
        blocks.append(Table(header, rows, (32, 17, 17, 17, 17, 60)))
        note = (
            "应召开、已达标按期（月、季度或年）计，已召开按次计。支部党员大会、支部委员会会议"
            "须达到法定人数（有表决权的党员过半数）才计为已召开。"
        )
        blocks.append(Paragraph(note, muted=True))
    else:
        blocks.append(Paragraph("配置中没有要求定期召开的会议。", muted=True))
    blocks.append(Heading("二、待补充会议记录的会议", 1))
    missing = book.missing_minutes
    if missing:
        blocks.extend(Paragraph(f"□ {m.heading}（{m.when}）") for m in missing)
    else:
        blocks.append(Paragraph("无：已召开的会议都有会议记录。", muted=True))
    return blocks


def _attendance_rows(m: BookMeeting) -> list[list[str]]:
    leave = "、".join(f"{name}（{reason}）" if reason else name for name, reason in m.leave)
    rows = [
        ["会议类型", m.kind_label],
        ["会议主题", m.title or NOT_RECORDED],
        ["时间", m.when],
        ["地点", m.place or NOT_RECORDED],
        ["主持人", m.host or NOT_RECORDED],
        ["记录人", m.recorder or NOT_RECORDED],
        ["应到人数", f"{m.expected} 人"],
        ["实到人数", f"{len(m.present)} 人"],
        ["出席人员", _names(m.present)],
        ["请假人员（事由）", leave or "无"],
        ["缺席人员", _names(m.absent) if m.ended else "会议尚未结束"],
    ]
    if m.quorum:
        rows.append(["法定人数", m.quorum])
    return rows


def _text(text: str) -> list[Paragraph]:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return [Paragraph(NOT_RECORDED, muted=True)]
    return [Paragraph(line) for line in lines]


def meeting_blocks(m: BookMeeting) -> list[Block]:
    return [
        Heading(m.heading, 2),
        Table((), _attendance_rows(m), (36, 124)),
        Heading("会议记录", 3),
        *_text(m.minutes),
        Heading("会议决议", 3),
        *_text(m.decisions),
    ]


def book_blocks(book: RecordBook) -> list[Block]:
    """The whole book: the front page, then one section per meeting."""
    blocks = front_page(book)
    blocks.append(PageBreak())
    blocks.append(Heading("三、会议记录", 1))
    if not book.meetings:
        blocks.append(Paragraph("本期间没有召开会议。", muted=True))
    for number, meeting in enumerate(book.meetings):
        if number:
            blocks.append(PageBreak())  # each meeting on its own page(s), as a book is kept
        blocks.extend(meeting_blocks(meeting))
    return blocks
