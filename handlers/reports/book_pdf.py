"""The record book as a PDF (fpdf2): A4, a CJK font found on this machine (core.documents),
label/value tables per meeting, page numbers in the footer. The same book gives the same bytes.

With no CJK font installed a PDF would show empty boxes for every Chinese character, so the
writer refuses instead, saying what to install or configure.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import IO

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from core.config import Settings
from core.documents import FontFile, FontMissing, cjk_font
from handlers.errors import DomainError
from handlers.reports.book import RecordBook
from handlers.reports.book_layout import Heading, PageBreak, Paragraph, Table, book_blocks

log = logging.getLogger(__name__)

FAMILY = "cjk"
SIZES = {0: 20, 1: 15, 2: 13, 3: 11.5}  # heading level → points
BODY = 10.5
LINE = 6.2  # mm per body line
MUTED = (89, 89, 89)
KEEP_WITH_NEXT = 30  # mm: a heading with less room than this below it starts a new page


def book_fonts(settings: Settings) -> tuple[FontFile, FontFile]:
    """The configured CJK font (for text and headings alike), or the regular and bold faces
    fontconfig finds; a refusal saying how to get one."""
    configured, index = settings.reports.pdf_font, settings.reports.pdf_font_index
    try:
        regular = cjk_font(configured, index)
        return regular, regular if configured else cjk_font(bold=True)
    except FontMissing as exc:
        log.warning("record book PDF refused: %s", exc)
        raise DomainError(
            "服务器上没有中文字体，无法生成 PDF。请安装 fonts-noto-cjk"
            "（Debian/Ubuntu：apt-get install fonts-noto-cjk），或在配置 [reports] pdf_font "
            "中指定字体文件；也可以先下载 .docx 版本。"
        ) from exc


class _BookPdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, size=8.5)
        self.set_text_color(*MUTED)
        self.cell(0, 6, f"{self.footer_text}　第 {self.page_no()} 页", align="C")
        self.set_text_color(0, 0, 0)


def _heading(pdf: FPDF, block: Heading) -> None:
    size = SIZES.get(block.level, BODY)
    if pdf.will_page_break(KEEP_WITH_NEXT):
        pdf.add_page()  # a heading never ends a page: it stays with what follows
    elif block.level <= 2:
        pdf.ln(3 if block.level else 0)
    pdf.set_font(FAMILY, "B", size=size)
    align = "C" if block.level == 0 else "L"
    pdf.multi_cell(
        0,
        size * 0.55,
        block.text,
        align=align,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(1.5)
    pdf.set_font(FAMILY, size=BODY)


def _paragraph(pdf: FPDF, block: Paragraph) -> None:
    if block.muted:
        pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        0,
        LINE,
        block.text,
        align="L",
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(0, 0, 0)


def _table(pdf: FPDF, block: Table) -> None:
    shade = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
    with pdf.table(
        col_widths=tuple(block.widths) or None,
        first_row_as_headings=bool(block.header),
        headings_style=shade,
        text_align="LEFT",
        line_height=LINE,
        wrapmode=WrapMode.CHAR,
        padding=1.2,
    ) as table:
        for values in ([block.header] if block.header else []) + list(block.rows):
            row = table.row()
            for c, value in enumerate(values):
                row.cell(value, style=shade if not block.header and c == 0 else None)
    pdf.ln(3)


def write_pdf(book: RecordBook, target: IO[bytes], fonts: tuple[FontFile, FontFile]) -> None:
    """Write the record book as PDF to a binary file, in ``fonts`` (regular, bold)."""
    pdf = _BookPdf(format="A4")
    pdf.footer_text = f"{book.branch_name}{book.year}年组织生活记录本"
    pdf.set_creation_date(datetime(book.year, 1, 1, tzinfo=UTC))
    pdf.set_title(book.filename("pdf").removesuffix(".pdf"))
    pdf.set_author(book.committee_name)
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(True, margin=20)
    for style, font in zip(("", "B"), fonts, strict=True):
        pdf.add_font(FAMILY, style, font.path, collection_font_number=font.index)
    pdf.add_page()
    pdf.set_font(FAMILY, size=BODY)
    for block in book_blocks(book):
        if isinstance(block, Heading):
            _heading(pdf, block)
        elif isinstance(block, Paragraph):
            _paragraph(pdf, block)
        elif isinstance(block, Table):
            _table(pdf, block)
        elif isinstance(block, PageBreak):
            pdf.add_page()
    target.write(bytes(pdf.output()))


def pdf_bytes(book: RecordBook, settings: Settings) -> bytes:
    fonts = book_fonts(settings)
    out = io.BytesIO()
    write_pdf(book, out, fonts)
    return out.getvalue()
