"""Files made for people to read and print: the same content always gives the same bytes, and
the Chinese font a PDF needs is found on this machine.

`stamp_package` rewrites an Office Open XML package (.docx, .xlsx), which libraries write with
the moment of writing in every zip member and in docProps/core.xml, so that those times are the
document's own date. `cjk_font` finds a CJK font file (and its index in a .ttc collection)
through fontconfig, or takes the one configured.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

_STAMPS = re.compile(
    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)"
)


def stamp_package(raw: bytes, target: IO[bytes], created: datetime) -> None:
    """Copy an OOXML package to ``target`` with every zip member's time and the document's
    created and modified times set to ``created`` (naive, read as UTC)."""
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with (
        zipfile.ZipFile(io.BytesIO(raw)) as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "docProps/core.xml":
                data = _STAMPS.sub(rb"\g<1>" + stamp + rb"\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=created.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(fixed, data)


# Control characters XML 1.0 cannot hold (tab, LF and CR it can): a document library would
# refuse the whole file for one of them in a person's text.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """Text a document can hold: XML-illegal control characters become U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", text)


class FontMissing(Exception):
    """No CJK font was found (or the configured one is not a readable file)."""


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int  # the face's number in a .ttc collection (0 for a single font)


# Families tried in order through fontconfig: Noto (fonts-noto-cjk), then others Debian ships.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)


def cjk_font(configured: str = "", index: int = 0, *, bold: bool = False) -> FontFile:
    """The CJK font for PDFs: the ``configured`` file (face ``index`` of a .ttc), or the first
    of CJK_FAMILIES fontconfig knows (its bold face if asked for and there is one, else its
    regular one); FontMissing when there is none."""
    if configured:
        if not Path(configured).is_file():
            raise FontMissing(f"configured font file not found: {configured}")
        return FontFile(configured, index)
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        raise FontMissing("fc-match (fontconfig) is not installed")
    for family in CJK_FAMILIES:
        found = subprocess.run(  # noqa: S603 - fc-match with fixed arguments
            [fc_match, "-f", "%{family}\t%{file}\t%{index}", family + (":bold" if bold else "")],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout
        families, _, rest = found.partition("\t")
        path, _, face = rest.partition("\t")
        if family in families.split(",") and Path(path).is_file():
            return FontFile(path, int(face) if face.isdigit() else 0)
    raise FontMissing("no CJK font known to fontconfig: " + ", ".join(CJK_FAMILIES))
