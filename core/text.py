"""Forgiving parsing of Chinese command text typed on a phone."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# Characters people put between a command word and its argument, or around a command.
SEPARATORS = " \t\r\n\u3000:：,，、.。;；!！~～-—_"
LEADING_NOISE = "#＃/／【[「『(（"
TRAILING_NOISE = "】]」』)）"

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def command_head(text: str) -> str:
    """The text as command words are looked for at its start: outer spaces and leading
    brackets or marks dropped (``【打卡】`` → ``打卡】``)."""
    return text.strip().lstrip(LEADING_NOISE).strip()


def split_command(text: str, words: tuple[str, ...]) -> tuple[str, str] | None:
    """Return (word, argument) if the text starts with one of the command words."""
    return split_head(command_head(text), sorted(words, key=len, reverse=True))


def split_head(head: str, longest_first: Sequence[str]) -> tuple[str, str] | None:
    """``split_command`` of a text already through ``command_head``, with the words sorted
    longest first (so that 学习资料 is tried before 学习)."""
    for word in longest_first:
        if head.startswith(word):
            rest = head[len(word) :]
            closed = rest[:1] in TRAILING_NOISE and rest != ""  # 【绑定】CODE
            rest = rest.lstrip(TRAILING_NOISE)
            if closed or rest == "" or rest[0] in SEPARATORS:
                return word, rest.strip(SEPARATORS).strip()
    return None


def fold(text: str) -> str:
    """Fold full-width forms to ASCII and drop spaces and dashes: for codes people type."""
    s = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\-_—·.]", "", s).upper()


def safe_for_reply(text: str) -> str:
    """Make text safe inside wechatpy's CDATA reply: no ']]>' and no XML-invalid characters."""
    return _XML_INVALID.sub("", text).replace("]]>", "]] >")


def book_title(title: str) -> str:
    """A title in 《》, unless it already holds one (《条例》：第三章, 学习《党章》总纲)."""
    return title if "《" in title else f"《{title}》"


def content_disposition(filename: str, fallback: str) -> str:
    """A Content-Disposition for a download named ``filename`` (any script), RFC 6266 with
    RFC 5987's filename* (UTF-8, percent-encoded), and ``fallback`` (ASCII) for old clients."""
    from urllib.parse import quote

    plain = re.sub(r"[^A-Za-z0-9._-]", "_", fallback) or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"
