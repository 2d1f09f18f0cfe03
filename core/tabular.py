"""Spreadsheet files in and out: formula-safe writers and bounded readers for hostile files.

Writing: every CSV or XLSX the project writes goes through `csv_writer` or `write_xlsx`, which
pass each cell through `safe_cell` (OWASP's CSV-injection rule), so no name, branch or note a
person typed runs as a formula when a secretary opens the file.

Reading: `read_rows` checks a file against `Limits` before anything parses it: the file size;
for .xlsx the archive's member count and total uncompressed size, every member's CRC, and every
XML part (well formed, no DTD, so no entity expansion, no text or tag too long for the
parsers); then, while the first sheet is read, the row count (reading stops at the limit + 1),
the column count and each cell's length. Every refusal is a `TableError` whose Chinese message
names the limit and its setting and quotes cell text cut short. A text cell safe_cell marked (an
apostrophe before = + - @ tab CR) is read without its apostrophe (`plain_cell`), so what the
project exports imports back as it was.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any
from xml.parsers import expat
from xml.sax.saxutils import unescape

from et_xmlfile import xmlfile
from openpyxl import Workbook, load_workbook
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


if TYPE_CHECKING:
    from core.config import Settings


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


# ---- reading: limits and errors -----------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What an imported file may hold: the [imports] settings (core.config)."""

    max_file_bytes: int
    max_uncompressed_bytes: int
    max_zip_members: int
    max_rows: int
    max_columns: int
    max_cell_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        section = settings.imports
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})


class TableError(Exception):
    """The file cannot be read or breaks a limit; `message` says so in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Characters a message must not print as they are: controls (a terminal obeys ESC), format
# characters (zero-width, bidirectional overrides), line and paragraph separators, surrogates.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def preview(text: str, limit: int = 20) -> str:
    """Cut untrusted text short for a message, invisible characters shown as \\uXXXX."""
    head = "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in INVISIBLE_CATEGORIES else ch
        for ch in text[:limit]
    )
    return head + ("…" if len(text) > limit else "")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n} 字节"


_RESAVE = "请用Excel打开后另存为 .xlsx 文件再导入。"


def _damaged(part: str, what: str) -> TableError:
    return TableError(f"Excel文件已损坏（{part}：{what}），未导入任何数据。{_RESAVE}")


# ---- reading: the entry point -------------------------------------------------------------

XLSX_EXTENSIONS = (".xlsx", ".xlsm")
CSV_EXTENSIONS = (".csv", ".txt")


def read_rows(path: str | os.PathLike[str], limits: Limits) -> Iterator[list[Any]]:
    """Check a .xlsx or .csv against the limits, then return its (first sheet's) rows.

    The file-level checks run now; the row, column and cell checks as the rows are read.
    Cells come through plain_cell. Raises TableError, never a parser's own exception.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise TableError(f"找不到文件：{path}")
    if ext == ".xls":
        raise TableError("不支持旧版 .xls 文件，请在Excel中另存为 .xlsx 或 CSV 后重试。")
    if ext not in XLSX_EXTENSIONS + CSV_EXTENSIONS:
        raise TableError(f"不支持的文件类型“{ext or path}”，请使用 .xlsx 或 .csv 文件。")
    try:
        size = os.path.getsize(path)
        if size > limits.max_file_bytes:
            raise TableError(
                f"文件有 {_size(size)}，超过导入上限 {_size(limits.max_file_bytes)}"
                "（设置项 imports.max_file_bytes），未导入任何数据。"
                "请分批导入，或请管理员调高该设置。"
            )
        if ext in XLSX_EXTENSIONS:
            _check_xlsx(path, limits)
            rows = _xlsx_rows(path, limits)
        else:
            rows = _csv_rows(_csv_text(path, limits))
    except OSError as exc:  # unreadable: permissions, a device, a vanished file
        raise TableError(
            f"无法读取文件 {path}（{exc.strerror or exc}），未导入任何数据。"
        ) from None
    return _bounded(rows, limits)


def _bounded(rows: Iterator[Iterable[Any]], limits: Limits) -> Iterator[list[Any]]:
    """Pass rows through while they keep to the row, column and cell limits."""
    for number, cells in enumerate(rows, start=1):
        if number > limits.max_rows:
            raise TableError(
                f"表格超过 {limits.max_rows} 行（设置项 imports.max_rows），"
                f"读到第{number}行时停止，未导入任何数据。如果数据下方有大量空行，请删除这些行；"
                "名单确实更长时请分批导入。"
            )
        row = list(cells)
        if len(row) > limits.max_columns:
            for index in range(limits.max_columns, len(row)):
                if row[index] not in (None, ""):
                    raise TableError(
                        f"第{number}行第{get_column_letter(index + 1)}列有内容，"
                        f"超过 {limits.max_columns} 列的上限（设置项 imports.max_columns），"
                        "未导入任何数据。请删除多余的列后重试。"
                    )
            del row[limits.max_columns :]
        for index, value in enumerate(row):
            if isinstance(value, str) and len(value) > limits.max_cell_chars:
                raise TableError(
                    f"第{number}行第{get_column_letter(index + 1)}列的内容有 {len(value)} 个字，"
                    f"超过上限 {limits.max_cell_chars} 个字（设置项 imports.max_cell_chars）："
                    f"“{preview(value)}”，未导入任何数据。请删减后重试。"
                )
        yield [plain_cell(value) for value in row]


# ---- reading: CSV -------------------------------------------------------------------------


def _csv_text(path: str, limits: Limits) -> str:
    """Read and decode a CSV: UTF-8 (with or without BOM), else GBK as saved by Chinese Excel."""
    with open(path, "rb") as fh:
        data = fh.read(limits.max_file_bytes + 1)  # the file may have grown since it was sized
    if len(data) > limits.max_file_bytes:
        raise TableError(
            f"文件超过导入上限 {_size(limits.max_file_bytes)}（设置项 imports.max_file_bytes），"
            "未导入任何数据。请分批导入，或请管理员调高该设置。"
        )
    if b"\x00" in data:
        raise TableError(
            "CSV文件含有空字符（NUL），可能是UTF-16编码或根本不是文本文件，未导入任何数据。"
            "请在Excel中另存为“CSV UTF-8”格式后重试。"
        )
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 is a superset of GBK and GB2312
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError("无法识别CSV文件的编码，请在Excel中另存为“CSV UTF-8”格式后重试。")


def _csv_rows(text: str) -> Iterator[list[str]]:
    first_line = text[: text.find("\n")] if "\n" in text else text
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    done = 0
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            yield row
            done += 1
    except csv.Error as exc:
        # The csv module refuses a field over its own limit (131,072 characters).
        what = "有单元格过长" if "field limit" in str(exc) else "格式无法识别"
        raise TableError(
            f"CSV文件第{done + 1}行{what}，未导入任何数据。"
            "请在Excel中检查该行，另存为“CSV UTF-8”格式后重试。"
        ) from None


# ---- reading: XLSX ------------------------------------------------------------------------

_CHUNK = 64 * 1024
_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
# A central directory entry: 46 bytes and the member's name, extra field and comment. An
# .xlsx's names are short; this is a generous bound per member.
_DIRECTORY_BYTES_PER_MEMBER = 1024


def _directory_size(fh: IO[bytes]) -> tuple[int, int]:
    """Return (members, central directory bytes) from a zip's end record, without opening it.

    zipfile.ZipFile reads the whole central directory into objects at once (300,000 members
    took 160 MB); the end record says how big it is first. (0, 0) when there is no end record.
    """
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    tail_start = max(0, size - (22 + 0xFFFF))  # the record and the longest comment
    fh.seek(tail_start)
    tail = fh.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return 0, 0
    members, directory = struct.unpack("<HL", tail[at + 10 : at + 16])
    locator = at - 20
    if (members == 0xFFFF or directory == 0xFFFFFFFF) and locator >= 0:
        if tail[locator : locator + 4] == _EOCD64_LOCATOR:
            (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
            fh.seek(offset)
            record = fh.read(56)
            if len(record) == 56 and record[:4] == _EOCD64:
                members, directory = struct.unpack("<QQ", record[32:48])
    return members, directory


def _check_xlsx(path: str, limits: Limits) -> None:
    """Check an .xlsx before openpyxl parses it; raise TableError naming what is wrong."""
    with open(path, "rb") as fh:
        members, directory = _directory_size(fh)
        if (
            members > limits.max_zip_members
            or directory > limits.max_zip_members * _DIRECTORY_BYTES_PER_MEMBER
        ):
            raise _too_many_members(members, limits)
        fh.seek(0)
        try:
            archive = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error) as exc:
            log.info("xlsx refused: not a zip archive (%s)", exc.__class__.__name__)
            raise TableError(
                "无法读取Excel文件：它不是有效的 .xlsx 文件（可能是改了扩展名的其他文件、"
                "旧版 .xls 文件，或设置了打开密码），未导入任何数据。" + _RESAVE
            ) from None
        with archive:
            infos = archive.infolist()
            if len(infos) > limits.max_zip_members:
                raise _too_many_members(len(infos), limits)
            total = sum(info.file_size for info in infos)
            if total > limits.max_uncompressed_bytes:
                raise TableError(
                    f"Excel文件解压后有 {_size(total)}，超过上限 "
                    f"{_size(limits.max_uncompressed_bytes)}"
                    "（设置项 imports.max_uncompressed_bytes），未导入任何数据。"
                    "请分批导入，或请管理员调高该设置。"
                )
            for info in infos:
                _check_member(archive, info, limits)


def _too_many_members(members: int, limits: Limits) -> TableError:
    return TableError(
        f"Excel文件内部有 {members} 个部件，超过上限 {limits.max_zip_members} 个"
        "（设置项 imports.max_zip_members），不像正常的表格文件，未导入任何数据。" + _RESAVE
    )


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits) -> None:
    """Read one member to its end (the CRC is checked there); parse it if it is XML."""
    name = info.filename
    xml = name.lower().endswith((".xml", ".rels"))
    parser = _xml_checker(name) if xml else None
    guard = _TokenGuard(name, limits) if xml else None
    try:
        with archive.open(info) as part:
            while chunk := part.read(_CHUNK):
                if guard is not None and parser is not None:
                    guard.feed(chunk)
                    parser.Parse(chunk, False)
        if parser is not None:
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        log.info("xlsx refused: %s is not well-formed XML (%s)", name, exc)
        raise _damaged(name, "不是有效的XML") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        log.info("xlsx refused: %s cannot be decompressed (%s)", name, exc)
        raise _damaged(name, "压缩数据校验失败") from None
    except (NotImplementedError, RuntimeError) as exc:  # unknown compression, a password
        log.info("xlsx refused: %s cannot be read (%s)", name, exc)
        raise _damaged(name, "使用了不支持的压缩方式或密码") from None


def _xml_checker(name: str) -> Any:
    """An expat parser that only checks well-formedness and refuses any DTD.

    Office Open XML parts never carry a DTD (ECMA-376 Part 2 forbids them); a DTD is how
    entity-expansion ("billion laughs") and external-entity attacks start.
    """
    parser = expat.ParserCreate()

    def refuse_dtd(*_: Any) -> None:
        log.info("xlsx refused: %s declares a DTD", name)
        raise TableError(
            f"Excel文件含有DTD声明（{name}）。Excel不会生成这样的文件，它可能被篡改过，"
            "未导入任何数据。" + _RESAVE
        )

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    return parser


class _TokenGuard:
    """Refuse XML with a text run or a tag longer than a bound, before a parser buffers it.

    Runs of bytes between two '<' / '>' are texts (after '>') or tags (after '<'). A text run
    of this many bytes holds more than max_cell_chars characters (an escaped character takes
    at most 10 bytes), so one overlong cell is refused here, in a few chunks, however big it is.
    """

    _DELIMITER = re.compile(rb"[<>]")

    def __init__(self, part: str, limits: Limits) -> None:
        self.part = part
        self.limits = limits
        self.bound = limits.max_cell_chars * 10 + 64 * 1024
        # A delimiter followed by `bound` non-delimiters: linear, it only starts at a delimiter.
        self.long = re.compile(rb"[<>][^<>]{%d}" % self.bound)
        self.run = 0  # bytes since the last delimiter
        self.in_tag = False  # whether the last delimiter was '<'
        self.head = b""  # the first bytes of the current run, for the message

    def feed(self, chunk: bytes) -> None:
        first = self._DELIMITER.search(chunk)
        lead = first.start() if first else len(chunk)
        if len(self.head) < 200:
            self.head += chunk[: min(lead, 200)]
        if self.run + lead > self.bound:
            self._refuse(self.in_tag, self.head)
        found = self.long.search(chunk)
        if found is not None:
            self._refuse(chunk[found.start()] == ord("<"), chunk[found.start() + 1 :][:200])
        if first is None:
            self.run += len(chunk)
            return
        last = max(chunk.rfind(b"<"), chunk.rfind(b">"))
        self.run = len(chunk) - last - 1
        self.in_tag = chunk[last] == ord("<")
        self.head = chunk[last + 1 :][:200]

    def _refuse(self, in_tag: bool, head: bytes) -> None:
        kind = "tag" if in_tag else "text"
        log.info("xlsx refused: %s holds a %s over %d bytes", self.part, kind, self.bound)
        if in_tag:
            raise _damaged(self.part, f"有超过 {self.bound} 字节的XML标记")
        text = unescape(head.decode("utf-8", errors="replace"))
        raise TableError(
            f"Excel文件中有单元格的内容超过上限 {self.limits.max_cell_chars} 个字"
            f"（设置项 imports.max_cell_chars）：“{preview(text)}”，未导入任何数据。请删减后重试。"
        )


def _xlsx_rows(path: str, limits: Limits) -> Iterator[tuple[Any, ...]]:
    """The first sheet's values, row by row, from row 1, at most max_rows + 1 rows."""
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        log.info("xlsx refused by openpyxl: %s", exc.__class__.__name__)
        raise TableError(
            f"无法读取Excel文件（{exc.__class__.__name__}），未导入任何数据。" + _RESAVE
        ) from exc
    try:
        if not wb.worksheets:
            raise TableError("Excel文件中没有工作表，未导入任何数据。" + _RESAVE)
        ws = wb.worksheets[0]
        # Some writers record a wrong sheet size: read every cell present, up to the limit + 1
        # (openpyxl then stops, rather than walking millions of blank rows).
        ws.reset_dimensions()
        rows = ws.iter_rows(min_row=1, min_col=1, max_row=limits.max_rows + 1, values_only=True)
        done = 0
        try:
            for row in rows:
                yield row
                done += 1
        except Exception as exc:
            log.info("xlsx refused by openpyxl at row %d: %s", done + 1, exc.__class__.__name__)
            raise _damaged(f"工作表“{preview(ws.title)}”", f"第{done + 1}行无法读取") from exc
    finally:
        wb.close()
