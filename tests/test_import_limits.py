"""Imports check size, archive, XML, rows, columns and cells before trusting a file (D6).

Hostile files are built here with zipfile, so they stay small on disk however much they hold
once decompressed; the command-line runs show a Chinese message and never a traceback.
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from core.config import defaults
from handlers import dues as d
from handlers.errors import DomainError
from handlers.roster import import_roster, parse_roster
from models.base import db
from models.org import Member

ROOT = Path(__file__).resolve().parent.parent
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 10, 10, 0, tzinfo=SH)
COMMITTEE = "示例党委"
HEADER = ["姓名", "手机号", "支部"]
GOOD_ROW = ["张三", "13800000011", "第一党支部"]
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
MB = 1024 * 1024

Part = bytes | Callable[[IO[bytes]], None]


def roster_xlsx(path: Path, rows: list[list[Any]] | None = None) -> Path:
    """A real roster saved by openpyxl (shared strings, like Excel's own files)."""
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in [GOOD_ROW] if rows is None else rows:
        ws.append(row)
    wb.save(path)
    return path


def rewrite(src: Path, dst: Path, parts: dict[str, Part], method: int = zipfile.ZIP_DEFLATED):
    """Copy an .xlsx, replacing or adding members: bytes, or a function streaming them."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", method) as zout:
        names = [info.filename for info in zin.infolist()]
        for name in names + [n for n in parts if n not in names]:
            new = parts.get(name)
            if new is None:
                zout.writestr(name, zin.read(name))
            elif callable(new):
                with zout.open(name, "w") as out:
                    new(out)
            else:
                zout.writestr(name, new)
    return dst


def member_bytes(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def data_offset(path: Path, name: str) -> int:
    """Where a member's (compressed) data starts in the file."""
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def flip(path: Path, at: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(at)
        byte = fh.read(1)
        fh.seek(at)
        fh.write(bytes([byte[0] ^ 0x01]))


# ---- hostile workbooks ------------------------------------------------------------------------


def with_shared_strings(base: Path, dst: Path, strings: Part, sheet: bytes) -> Path:
    """Add a shared-strings part (as Excel writes names) to an openpyxl workbook."""
    types = member_bytes(base, "[Content_Types].xml").replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = member_bytes(base, "xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        b"</Relationships>",
    )
    parts = {
        "[Content_Types].xml": types,
        "xl/_rels/workbook.xml.rels": rels,
        SHEET: sheet,
        STRINGS: strings,
    }
    return rewrite(base, dst, parts)


def huge_cell(tmp_path: Path, where: str, megabytes: int = 100) -> Path:
    """One 100 MB name, in the shared strings or in the sheet itself: about 100 KB on disk."""
    base = roster_xlsx(tmp_path / "base.xlsx", [["__BIG__", "13800000011", "第一党支部"]])
    sheet = member_bytes(base, SHEET)
    block = b"A" * MB

    def streamed(before: bytes, after: bytes) -> Callable[[IO[bytes]], None]:
        def write(out: IO[bytes]) -> None:
            out.write(before)
            for _ in range(megabytes):
                out.write(block)
            out.write(after)

        return write

    if where == "sheet":
        before, after = sheet.split(b"__BIG__")
        return rewrite(base, tmp_path / "huge-cell.xlsx", {SHEET: streamed(before, after)})
    inline = b'<c r="A2" t="inlineStr"><is><t>__BIG__</t></is></c>'
    assert inline in sheet
    sheet = sheet.replace(inline, b'<c r="A2" t="s"><v>0</v></c>')
    strings = streamed(
        f'<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>'.encode(),
        b"</t></si></sst>",
    )
    return with_shared_strings(base, tmp_path / "huge-cell.xlsx", strings, sheet)


def blank_rows(tmp_path: Path, count: int = 3_000_000) -> Path:
    """A header, one member and then 3 million blank rows: about 30 KB on disk."""
    base = roster_xlsx(tmp_path / "base.xlsx")
    head, tail = member_bytes(base, SHEET).split(b"</sheetData>")

    def sheet(out: IO[bytes]) -> None:
        out.write(head)
        for _ in range(count // 100_000):
            out.write(b"<row/>" * 100_000)
        out.write(b"</sheetData>" + tail)

    return rewrite(base, tmp_path / "blank-rows.xlsx", {SHEET: sheet})


def far_row(tmp_path: Path) -> Path:
    """A header and one member at row 3,000,000, nothing between: a few KB."""
    base = roster_xlsx(tmp_path / "base.xlsx")
    head, tail = member_bytes(base, SHEET).split(b"</sheetData>")
    far = b'<row r="3000000"><c r="A3000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData>'
    return rewrite(base, tmp_path / "far-row.xlsx", {SHEET: head + far + tail})


def corrupt_xml(tmp_path: Path) -> Path:
    base = roster_xlsx(tmp_path / "base.xlsx")
    sheet = member_bytes(base, SHEET)
    return rewrite(base, tmp_path / "corrupt-xml.xlsx", {SHEET: sheet[: len(sheet) // 2]})


def bad_crc(tmp_path: Path) -> Path:
    """The sheet stored uncompressed with one digit changed after the CRC was written."""
    base = roster_xlsx(tmp_path / "base.xlsx")
    path = rewrite(base, tmp_path / "bad-crc.xlsx", {}, method=zipfile.ZIP_STORED)
    start = data_offset(path, SHEET)
    sheet = member_bytes(path, SHEET)
    flip(path, start + sheet.index(b"13800000011") + 10)  # 1 -> 0: still valid XML
    return path


def bad_deflate(tmp_path: Path) -> Path:
    base = roster_xlsx(tmp_path / "base.xlsx")
    path = rewrite(base, tmp_path / "bad-deflate.xlsx", {})
    with zipfile.ZipFile(path) as z:
        size = z.getinfo(SHEET).compress_size
    start = data_offset(path, SHEET)
    for at in range(start + 2, start + size - 2, 7):
        flip(path, at)
    return path


def not_a_zip(tmp_path: Path) -> Path:
    path = tmp_path / "not-a-zip.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an old .xls, or a password-protected workbook")
    return path


def truncated(tmp_path: Path) -> Path:
    data = roster_xlsx(tmp_path / "base.xlsx").read_bytes()
    path = tmp_path / "truncated.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def billion_laughs(tmp_path: Path) -> Path:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    sheet = (
        '<?xml version="1.0"?><!DOCTYPE worksheet [' + "".join(entities) + "]>"
        f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>'
    )
    base = roster_xlsx(tmp_path / "base.xlsx")
    return rewrite(base, tmp_path / "billion-laughs.xlsx", {SHEET: sheet.encode()})


def bad_string_index(tmp_path: Path) -> Path:
    """Well-formed, but a cell points at a shared string the file does not have."""
    base = roster_xlsx(tmp_path / "base.xlsx")
    sheet = member_bytes(base, SHEET)
    # 张三's cell, as openpyxl writes it (with lxml installed, as numeric character references)
    inline = re.compile(rb'<c r="A2" t="inlineStr"><is><t>[^<]*</t></is></c>')
    assert inline.search(sheet)
    sheet = inline.sub(b'<c r="A2" t="s"><v>999</v></c>', sheet, count=1)
    return rewrite(base, tmp_path / "bad-index.xlsx", {SHEET: sheet})


def many_members(tmp_path: Path) -> Path:
    base = roster_xlsx(tmp_path / "base.xlsx")
    extra: dict[str, Part] = {f"xl/media/pad{i}.bin": b"" for i in range(1001)}
    return rewrite(base, tmp_path / "many-members.xlsx", extra)


def zip_bomb(tmp_path: Path) -> Path:
    """250 MB of zeros in one extra member, about 250 KB on disk."""
    base = roster_xlsx(tmp_path / "base.xlsx")
    block = bytes(MB)

    def zeros(out: IO[bytes]) -> None:
        for _ in range(250):
            out.write(block)

    return rewrite(base, tmp_path / "zip-bomb.xlsx", {"xl/media/pad.bin": zeros})


# The hostile files of the report, and what the refusal says.
HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "corrupt-xml": (corrupt_xml, "不是有效的XML"),
    "bad-crc": (bad_crc, "压缩数据校验失败"),
    "bad-deflate": (bad_deflate, "压缩数据校验失败"),
    "not-a-zip": (not_a_zip, "不是有效的 .xlsx 文件"),
    "truncated": (truncated, "不是有效的 .xlsx 文件"),
    "billion-laughs": (billion_laughs, "含有DTD声明"),
    "bad-string-index": (bad_string_index, "第2行无法读取"),
    "many-members": (many_members, "imports.max_zip_members"),
    "zip-bomb": (zip_bomb, "imports.max_uncompressed_bytes"),
}


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def run_cli(db_url: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """`flask --app app ARGS` in a child process on the test database and config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    env |= {
        "ZHIBU_CONFIG": str(ROOT / "tests" / "config.test.toml"),
        "ZHIBU_DATABASE__URL": db_url,
    } | settings
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def members(app: Any) -> int:
    with db.connection_context():
        return Member.select().count()


# ---- xlsx -------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_workbooks_get_a_chinese_message_from_every_import(app, tmp_path, case):
    build, says = HOSTILE[case]
    path = str(build(tmp_path))
    commands = [["roster", "import", path, "--committee", COMMITTEE]]
    if case != "bad-string-index":  # a row the dues imports never reach: their header differs
        commands += [["dues", "import", path], ["dues", "bases", path]]
    for command in commands:
        result = cli(app, *command)
        assert result.exit_code == 1, (command, result.output)
        # A handled refusal exits through sys.exit; a crash would leave its own exception.
        assert isinstance(result.exception, SystemExit), (command, repr(result.exception))
        assert says in result.output, (command, result.output)
        assert "未导入任何数据" in result.output or "未写入任何数据" in result.output
        assert "Traceback" not in result.output
    assert members(app) == 0


@pytest.mark.parametrize("case", ["corrupt-xml", "bad-crc", "billion-laughs", "bad-string-index"])
def test_the_command_prints_no_traceback(app, db_url, tmp_path, case):
    build, says = HOSTILE[case]
    proc = run_cli(db_url, "roster", "import", str(build(tmp_path)), "--committee", COMMITTEE)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert says in proc.stderr, proc.stderr


def test_the_uncompressed_limit_is_a_setting(app, db_url, tmp_path):
    base = roster_xlsx(tmp_path / "base.xlsx")
    padded = rewrite(base, tmp_path / "padded.xlsx", {"xl/media/pad.bin": bytes(2 * MB)})
    limit = {"ZHIBU_IMPORTS__MAX_UNCOMPRESSED_BYTES": str(MB)}
    proc = run_cli(db_url, "roster", "import", str(padded), "--committee", COMMITTEE, **limit)
    assert proc.returncode == 1, proc.stderr
    assert "超过上限 1.0 MB（设置项 imports.max_uncompressed_bytes）" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli(db_url, "roster", "import", str(padded), "--committee", COMMITTEE)
    assert proc.returncode == 0, proc.stderr  # 2 MB is far under the default


@pytest.mark.parametrize("where", ["shared-strings", "sheet"])
def test_a_100_mb_cell_is_refused_with_little_memory_and_a_short_message(conn, tmp_path, where):
    path = huge_cell(tmp_path, where)
    assert path.stat().st_size < MB
    tracemalloc.start()
    try:
        with pytest.raises(DomainError) as caught:
            import_roster(path, COMMITTEE, now=NOW)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = caught.value.message
    assert "超过上限 1000 个字（设置项 imports.max_cell_chars）" in message, message[:500]
    assert "“AAAAAAAAAAAAAAAAAAAA…”" in message
    assert len(message) < 300, len(message)
    assert peak < 64 * MB, f"peak {peak / MB:.0f} MB"
    assert Member.select().count() == 0


def test_three_million_blank_rows_are_refused_at_the_row_limit(conn, tmp_path):
    path = blank_rows(tmp_path)
    assert path.stat().st_size < 100 * 1024
    with pytest.raises(DomainError) as caught:
        import_roster(path, COMMITTEE, now=NOW)
    message = caught.value.message
    assert "表格超过 200000 行（设置项 imports.max_rows），读到第200001行时停止" in message
    assert "请删除这些行" in message
    assert Member.select().count() == 0


def test_one_row_three_million_rows_down_is_refused(conn, tmp_path):
    with pytest.raises(DomainError) as caught:
        import_roster(far_row(tmp_path), COMMITTEE, now=NOW)
    assert "设置项 imports.max_rows" in caught.value.message


def test_rows_up_to_the_limit_are_read(conn, tmp_path):
    settings = defaults()
    settings.imports.max_rows = 4  # the header and three members
    rows = [["甲", "13800000011", "一支部"], ["乙", "13800000012", "一支部"]]
    path = roster_xlsx(tmp_path / "three.xlsx", [*rows, ["丙", "13800000013", "一支部"]])
    assert len(parse_roster(path, settings=settings)) == 3
    path = roster_xlsx(tmp_path / "four.xlsx", [*rows, *rows])
    with pytest.raises(DomainError, match="表格超过 4 行（设置项 imports.max_rows）"):
        parse_roster(path, settings=settings)


def test_a_long_cell_in_a_sheet_names_its_row_and_column(conn, tmp_path):
    long_name = "长" * 1001
    path = roster_xlsx(tmp_path / "long.xlsx", [GOOD_ROW, [long_name, "13800000012", "一支部"]])
    with pytest.raises(DomainError) as caught:
        import_roster(path, COMMITTEE, now=NOW)
    message = caught.value.message
    assert message.startswith("第3行第A列的内容有 1001 个字，超过上限 1000 个字"), message
    assert "（设置项 imports.max_cell_chars）：“" + "长" * 20 + "…”" in message
    ok = roster_xlsx(tmp_path / "ok.xlsx", [["长" * 1000, "13800000012", "一支部"]])
    assert [len(r.name) for r in parse_roster(ok)] == [1000]  # at the limit: read (then checked)


def test_a_file_over_the_size_limit_is_refused_before_reading(conn, tmp_path):
    settings = defaults()
    settings.imports.max_file_bytes = 1000
    path = roster_xlsx(tmp_path / "r.xlsx")
    assert path.stat().st_size > 1000
    with pytest.raises(DomainError) as caught:
        import_roster(path, COMMITTEE, now=NOW, settings=settings)
    assert "超过导入上限 1000 字节（设置项 imports.max_file_bytes）" in caught.value.message


# ---- csv --------------------------------------------------------------------------------------


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def roster_text(*rows: str) -> str:
    return ",".join(HEADER) + "\n" + "".join(r + "\n" for r in rows)


def test_csv_limits(app, tmp_path):
    settings = defaults()
    settings.imports.max_file_bytes = 200
    big = write_csv(tmp_path / "big.csv", roster_text(*["张三,13800000011,一支部"] * 10))
    with pytest.raises(DomainError, match=r"设置项 imports\.max_file_bytes"):
        parse_roster(big, settings=settings)

    long = write_csv(tmp_path / "long.csv", roster_text("张三,13800000011," + "支" * 5000))
    with pytest.raises(DomainError) as caught:
        parse_roster(long)
    message = caught.value.message
    assert message.startswith("第2行第C列的内容有 5000 个字，超过上限 1000 个字"), message
    assert len(message) < 300

    # Past the csv module's own field limit (131,072): still a message, not csv.Error.
    huge = write_csv(tmp_path / "huge.csv", roster_text("张三,13800000011,一支部", "x" * 200_000))
    with pytest.raises(DomainError, match="CSV文件第3行有单元格过长"):
        parse_roster(huge)

    wide = write_csv(
        tmp_path / "wide.csv", roster_text("张三,13800000011,一支部" + "," * 200 + "x")
    )
    with pytest.raises(DomainError, match=r"第2行第GU列有内容，超过 200 列的上限"):
        parse_roster(wide)
    trailing = write_csv(
        tmp_path / "trail.csv", roster_text("张三,13800000011,一支部" + "," * 300)
    )
    assert len(parse_roster(trailing)) == 1  # empty cells past the limit are only dropped

    blank = write_csv(
        tmp_path / "blank.csv", roster_text("张三,13800000011,一支部") + "\n" * 300_000
    )
    with pytest.raises(DomainError, match="表格超过 200000 行"):
        parse_roster(blank)


def test_nul_bytes_in_a_csv_are_refused(app, tmp_path):
    path = write_csv(tmp_path / "nul.csv", roster_text("张\x00三,13800000011,一支部"))
    result = cli(app, "roster", "import", str(path), "--committee", COMMITTEE)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "CSV文件含有空字符（NUL）" in result.output
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes(roster_text("张三,13800000011,一支部").encode("utf-16"))
    result = cli(app, "roster", "import", str(utf16), "--committee", COMMITTEE)
    assert result.exit_code == 1 and "另存为“CSV UTF-8”格式" in result.output


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_and_gbk_is_still_read(conn, tmp_path, encoding):
    path = write_csv(tmp_path / "r.csv", roster_text("张三,13800000011,第一党支部"), encoding)
    assert import_roster(path, COMMITTEE, now=NOW).created == 1


def test_the_dues_imports_keep_to_the_limits(app, tmp_path):
    long = "月" * 2000
    payments = write_csv(tmp_path / "p.csv", f"姓名,手机号,金额,月份\n张三,13800000011,1,{long}\n")
    bases = write_csv(
        tmp_path / "b.csv", f"姓名,手机号,党费类别,起始月份\n张三,13800000011,在职,{long}\n"
    )
    with app.app_context(), db.connection_context():
        settings = app.config["ZHIBU"]
        with pytest.raises(DomainError, match="第2行第D列的内容有 2000 个字"):
            d.import_payments(payments, now=NOW, settings=settings)
        with pytest.raises(DomainError, match="第2行第D列的内容有 2000 个字"):
            d.import_assessments(bases, now=NOW, settings=settings)
