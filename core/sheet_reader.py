"""Reading spreadsheet files a person uploads, bounded: `read_rows` checks a file against
`Limits` before anything parses it: the file size; for .xlsx the archive's member count and total
uncompressed size, every member's CRC, and every XML part (well formed, no DTD, so no entity
expansion, no text or tag too long for the parsers); then, while the first sheet is read, the
row count (reading stops at the limit + 1), the column count and each cell's length. Every
refusal is a `TableError` whose Chinese message names the limit and its setting and quotes cell
text cut short. A text cell safe_cell marked (an apostrophe before = + - @ tab CR) is read
without its apostrophe (`plain_cell`), so what the project exports imports back as it was.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import IO, TYPE_CHECKING, Any
from xml.parsers import expat
from xml.sax.saxutils import unescape

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from core.tabular import plain_cell

if TYPE_CHECKING:
    from core.config import Settings

log = logging.getLogger(__name__)


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
