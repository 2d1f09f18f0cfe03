"""The record book's two file formats, by name: what every front door asks for.

The writers (python-docx, fpdf2 and the fontTools behind it) are imported when a book is
written, not when the app starts: they cost every process a fifth of a second and ~30 MB.
"""

from __future__ import annotations

from core.config import Settings
from handlers.errors import Invalid
from handlers.reports.book import RecordBook

BOOK_FORMATS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}


def book_format(text: str) -> str:
    """The format asked for (docx or pdf, any case, with or without the dot), or a refusal."""
    name = text.strip().lower().removeprefix(".")
    if name not in BOOK_FORMATS:
        raise Invalid("记录本只能生成 .docx 或 .pdf 文件。", errcode="invalid_format")
    return name


def book_bytes(book: RecordBook, fmt: str, settings: Settings) -> bytes:
    """The record book as .docx or .pdf bytes."""
    if book_format(fmt) == "pdf":
        from handlers.reports.book_pdf import pdf_bytes

        return pdf_bytes(book, settings)
    from handlers.reports.book_docx import docx_bytes

    return docx_bytes(book)
