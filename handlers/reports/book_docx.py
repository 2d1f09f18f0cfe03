"""The record book as a Word document (.docx, python-docx): A4, 宋体 text and 黑体 headings,
label/value tables per meeting, page numbers in the footer. The same book gives the same bytes."""

from __future__ import annotations

import io
from datetime import datetime
from typing import IO, Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from core.documents import stamp_package, xml_text
from handlers.reports.book import RecordBook
from handlers.reports.book_layout import Heading, PageBreak, Paragraph, Table, book_blocks

BODY_FONT, HEADING_FONT = "宋体", "黑体"
TEXT_WIDTH_CM = 16  # A4's 21 cm less 2.5 cm margins each side
MUTED = RGBColor(0x59, 0x59, 0x59)
_THEME_FONTS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")


def _east_asian(style: Any, name: str) -> None:
    """Set a style's East Asian font (the theme's font would win over it, so drop that)."""
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attr in _THEME_FONTS:
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:eastAsia"), name)


def _page_number(paragraph: Any) -> None:
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    paragraph.add_run("第 ")
    paragraph._p.append(field)
    paragraph.add_run(" 页")


def _setup(doc: Any, book: RecordBook) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.5))
    section.top_margin = section.bottom_margin = Cm(2.2)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(11)
    _east_asian(normal, BODY_FONT)
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
        style = doc.styles[name]
        _east_asian(style, HEADING_FONT)
        style.font.color.rgb = RGBColor(0, 0, 0)  # black, as records are printed
    doc.styles["Title"].paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer = section.footer.paragraphs[0]
    footer.text = f"{book.branch_name}{book.year}年组织生活记录本　"
    _page_number(footer)
    props = doc.core_properties
    props.title = book.filename("docx").removesuffix(".docx")
    props.author = props.last_modified_by = book.committee_name
    props.comments = ""
    props.revision = 1


def _table(doc: Any, block: Table) -> None:
    rows = ([list(block.header)] if block.header else []) + [list(r) for r in block.rows]
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = doc.styles["Table Grid"]
    table.autofit = False
    total = sum(block.widths) or 1
    widths = [Cm(TEXT_WIDTH_CM * w / total) for w in block.widths]
    for column, width in zip(table.columns, widths, strict=False):
        column.width = width  # the grid, which LibreOffice and WPS follow
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            cell = table.cell(r, c)
            cell.text = xml_text(value)
            if widths:
                cell.width = widths[c]  # each cell, which Word follows
            heading = (block.header and r == 0) or (not block.header and c == 0)
            if heading:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    doc.add_paragraph()


def write_docx(book: RecordBook, target: IO[bytes]) -> None:
    """Write the record book as .docx to a binary file."""
    doc = Document()
    _setup(doc, book)
    for block in book_blocks(book):
        if isinstance(block, Heading):
            doc.add_heading(xml_text(block.text), block.level)
        elif isinstance(block, Paragraph):
            run = doc.add_paragraph().add_run(xml_text(block.text))
            if block.muted:
                run.font.color.rgb = MUTED
        elif isinstance(block, Table):
            _table(doc, block)
        elif isinstance(block, PageBreak):
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    raw = io.BytesIO()
    doc.save(raw)
    stamp_package(raw.getvalue(), target, datetime(book.year, 1, 1))


def docx_bytes(book: RecordBook) -> bytes:
    out = io.BytesIO()
    write_docx(book, out)
    return out.getvalue()
