"""Spreadsheet files out: every CSV or XLSX the project writes goes through `csv_writer`,
`write_xlsx` or `write_workbook`, which pass each cell through `safe_cell` (OWASP's CSV-injection
rule), so no name, branch or note a person typed runs as a formula when a secretary opens the
file. Reading what people upload, bounded against hostile files, is core.sheet_reader's.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import IO, Any

from et_xmlfile import xmlfile
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell._writer import etree_write_cell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.compat import safe_string
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.documents import stamp_package

log = logging.getLogger(__name__)

# ---- writing ------------------------------------------------------------------------------

# A cell starting with one of these is a formula (or becomes one once a spreadsheet strips the
# tab or CR) in Excel, WPS and LibreOffice: OWASP's list for CSV injection.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Return a cell value no spreadsheet runs as a formula: text starting = + - @ tab CR gets '.

    The apostrophe is Excel's own "this is text" mark. Numbers, dates and None pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def plain_cell(value: Any) -> Any:
    """Undo safe_cell on a cell read back: an apostrophe followed by = + - @ tab or CR is
    dropped (only then), so a name exported as '=1+1 imports as =1+1. Anything else passes."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


class SafeCsvWriter:
    """A csv.writer whose every cell goes through safe_cell, every field quoted.

    Quoting every field keeps a separator inside a cell from starting a new cell that begins
    with a formula, in locales whose spreadsheets split on ';' as well as ','.
    """

    def __init__(self, fh: IO[str]) -> None:
        self._writer = csv.writer(fh, quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh: IO[str]) -> SafeCsvWriter:
    """Return the writer for every CSV the project writes (fh opened with newline="")."""
    return SafeCsvWriter(fh)


def _xlsx_cell(ws: Any, value: Any) -> Any:
    value = safe_cell(value)
    if not isinstance(value, str):
        return value
    # XML cannot hold most control characters; openpyxl would refuse the whole file.
    cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
    cell.data_type = "s"  # a string, never a formula, whatever openpyxl guesses from the text
    return cell


def write_xlsx(
    target: str | os.PathLike[str] | IO[bytes],
    rows: Iterable[Iterable[Any]],
    *,
    title: str = "Sheet1",
    created: datetime | None = None,
) -> None:
    """Write rows to a one-sheet .xlsx (streamed), every cell through safe_cell, text as text.

    With ``created`` (naive, UTC) the file's times are that moment, not the moment of writing,
    so the same rows give the same bytes."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title)
    for row in rows:
        ws.append([_xlsx_cell(ws, value) for value in row])
    if created is None:
        wb.save(target)
        return
    wb.properties.created = created
    raw = io.BytesIO()
    wb.save(raw)
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as fh:
            stamp_package(raw.getvalue(), fh, created)
    else:
        stamp_package(raw.getvalue(), target, created)


@dataclass(frozen=True)
class Sheet:
    """One sheet of a report workbook: a header row (frozen, printed on every page), the body,
    totals rows (bold) after it, column widths and number formats by column index."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Any]]
    widths: Sequence[int] = ()
    formats: Mapping[int, str] = field(default_factory=dict)
    totals: Sequence[Sequence[Any]] = ()
    landscape: bool = False


_BOLD = Font(bold=True)


def _styled(ws: Any, value: Any, number_format: str | None, bold: bool) -> Any:
    """A cell as _xlsx_cell makes it, with a number format and bold type where asked."""
    cell = _xlsx_cell(ws, value)
    if value is None or not (number_format or bold):
        return cell
    if not isinstance(cell, Cell):  # a number or a date: _xlsx_cell leaves it a value
        cell = WriteOnlyCell(ws, value=cell)
        if number_format:
            cell.number_format = number_format
    if bold:
        cell.font = _BOLD
    return cell


def _new_sheet(wb: Any, spec: Sheet) -> Any:
    """A write-only sheet set up for A4 with the spec's widths, its header row written."""
    ws = wb.create_sheet(title=spec.title)
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    for index, width in enumerate(spec.widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if spec.landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.append([_styled(ws, text, None, True) for text in spec.header])
    return ws


def _write_sheet(wb: Any, spec: Sheet, body: IO[bytes]) -> Any:
    """Write the header row through openpyxl; the other rows go to ``body`` as XML
    (_RowWriter), spliced in after the header when the workbook is zipped."""
    ws = _new_sheet(wb, spec)
    writer = _RowWriter(ws, spec.formats, body)
    number = 2
    for bold, rows in ((False, spec.rows), (True, spec.totals)):
        for row in rows:
            writer.write(number, row, bold)
            number += 1
    writer.flush()
    return ws


# openpyxl writes a cell through et_xmlfile's pure-Python serializer, ~33 µs a cell: 10.8 s of
# CPU for a 2,000-branch committee's 330,000 cells. _RowWriter writes the same XML for the
# common cells (text, int, float, Decimal, None) directly, and hands any other cell to
# openpyxl's own cell writer; the styles are openpyxl's, registered in the same order, so the
# workbook is byte for byte the same (1.5 s for that committee).
_FAST_NUMBERS = (int, float, Decimal)
_EXACT_INT = 2**53  # below it an int is an exact float: openpyxl's "%.16g" of it is str(int)
_ROWS_PER_WRITE = 500


def _text(value: str) -> str:
    """A cell's text escaped as xml.etree escapes element text."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


class _RowWriter:
    """Rows as openpyxl's write-only worksheet serializes them (without lxml), streamed."""

    def __init__(self, ws: Any, formats: Mapping[int, str], out: IO[bytes]) -> None:
        self.ws = ws
        self.formats = formats
        self.out = out
        self.parts: list[str] = []
        self.rows = 0
        self.styles: dict[tuple[str | None, bool], str] = {}
        # (column index, bold, text?) → ('<c r="B', '" s="3" t="n"'): a cell's XML around
        # its row number, worked out when the first such cell is written.
        self.heads: dict[tuple[int, bool, bool], tuple[str, str]] = {}

    def _style(self, number_format: str | None, bold: bool) -> str:
        """' s="N"' of the cells _styled makes with this format and weight ('' unstyled):
        openpyxl's style id, registered (numFmt, font, xf) when first met, as it would be."""
        key = (number_format, bold)
        found = self.styles.get(key)
        if found is None:
            cell = WriteOnlyCell(self.ws, value=0)
            if number_format:
                cell.number_format = number_format
            if bold:
                cell.font = _BOLD
            found = self.styles[key] = f' s="{cell.style_id}"' if cell.has_style else ""
        return found

    def _head(self, index: int, bold: bool, text: bool) -> tuple[str, str]:
        """_styled sets no number format on text: its style is the weight's alone."""
        style = self._style(None if text else self.formats.get(index), bold)
        kind = "inlineStr" if text else "n"
        found = (f'<c r="{get_column_letter(index + 1)}', f'"{style} t="{kind}"')
        self.heads[(index, bold, text)] = found
        return found

    def write(self, number: int, row: Iterable[Any], bold: bool) -> None:
        parts, heads = self.parts, self.heads
        parts.append(f'<row r="{number}">')
        for index, value in enumerate(row):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                text = safe_cell(value)
                text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)[:32767]
                stripped = text.strip()
                if not stripped or text == stripped:  # else xml:space: openpyxl writes it
                    ref, rest = heads.get((index, bold, True)) or self._head(index, bold, True)
                    if text:
                        parts.append(f"{ref}{number}{rest}><is><t>{_text(text)}</t></is></c>")
                    else:
                        parts.append(f"{ref}{number}{rest} />")
                    continue
            elif kind is int and -_EXACT_INT < value < _EXACT_INT:
                ref, rest = heads.get((index, bold, False)) or self._head(index, bold, False)
                parts.append(f"{ref}{number}{rest}><v>{value}</v></c>")
                continue
            elif kind in _FAST_NUMBERS and math.isfinite(value):
                ref, rest = heads.get((index, bold, False)) or self._head(index, bold, False)
                parts.append(f"{ref}{number}{rest}><v>{safe_string(value)}</v></c>")
                continue
            parts.append(self._by_openpyxl(number, index, value, bold))
        parts.append("</row>")
        self.rows += 1
        if self.rows % _ROWS_PER_WRITE == 0:
            self.flush()

    def _by_openpyxl(self, number: int, index: int, value: Any, bold: bool) -> str:
        """One cell as openpyxl writes it: the cell _styled makes, through its cell writer."""
        styled = _styled(self.ws, value, self.formats.get(index), bold)
        cell = styled if isinstance(styled, Cell) else WriteOnlyCell(self.ws, value=styled)
        cell.row, cell.column = number, index + 1
        if cell._value is None and not cell.has_style:
            return ""
        buffer = io.BytesIO()
        with xmlfile(buffer) as xf, xf.element("row"):
            etree_write_cell(xf, self.ws, cell, cell.has_style)
        return buffer.getvalue().decode("utf-8")[len("<row>") : -len("</row>")]

    def flush(self) -> None:
        if self.parts:
            self.out.write("".join(self.parts).encode("utf-8"))
            self.parts.clear()


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
_SHEET_DATA_END = b"</sheetData>"
_COPY_BYTES = 1024 * 1024


def write_workbook(target: IO[bytes], sheets: Iterable[Sheet], *, created: datetime) -> None:
    """Write a report workbook (streamed), every cell through safe_cell, text as text.

    Rows are consumed one at a time and written as XML to a temporary file, then copied into
    the zip: memory does not grow with the rows. The same sheets and ``created`` give the same
    bytes: the document's created and modified times are ``created`` (naive, UTC) and so is
    every zip member's time stamp, where openpyxl would put the moment of writing.
    """
    wb = Workbook(write_only=True)
    wb.properties.created = created
    with tempfile.TemporaryFile() as bodies:
        spans = []
        for spec in sheets:
            start = bodies.tell()
            ws = _write_sheet(wb, spec, bodies)
            spans.append((ws, start, bodies.tell()))
        raw = io.BytesIO()
        wb.save(raw)
        body_of = {ws.path.lstrip("/"): (start, end) for ws, start, end in spans}
        stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        with (
            zipfile.ZipFile(raw) as source,
            zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
        ):
            for info in source.infolist():
                data = source.read(info)
                if info.filename == "docProps/core.xml":
                    data = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
                fixed = zipfile.ZipInfo(info.filename, date_time=created.timetuple()[:6])
                fixed.compress_type = zipfile.ZIP_DEFLATED
                span = body_of.get(info.filename)
                if span is None:
                    out.writestr(fixed, data)
                    continue
                head, tail = data.split(_SHEET_DATA_END, 1)  # the header row only: small
                with out.open(fixed, "w") as member:
                    member.write(head)
                    bodies.seek(span[0])
                    left = span[1] - span[0]
                    while left:
                        chunk = bodies.read(min(left, _COPY_BYTES))
                        member.write(chunk)
                        left -= len(chunk)
                    member.write(_SHEET_DATA_END + tail)
