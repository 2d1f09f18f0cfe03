"""Logging set-up: one format, and mainland mobile numbers masked in every record."""

from __future__ import annotations

import logging
import re

# Characters that people and spreadsheets write in phone numbers, folded to ASCII one for one
# (so a position in the folded copy is the same position in the original): full-width digits,
# plus, hyphen and space; other dashes; no-break and ideographic spaces.
_FOLD = str.maketrans(
    {
        **{0xFF10 + i: ord("0") + i for i in range(10)},
        0xFF0B: "+",
        **dict.fromkeys((0xFF0D, 0x2010, 0x2011, 0x2012, 0x2013, 0x2212), "-"),
        **dict.fromkeys((0x3000, 0x00A0), " "),
    }
)
# A mainland mobile number (1[3-9] and nine more digits) written plain or 3-4-4 with a space or
# a hyphen between the groups, with or without a +86 / 0086 prefix. Not one: part of a longer
# run of digits or letters (order numbers, timestamps, ids, hex tokens) or of a decimal.
_PHONE = re.compile(
    r"(?<![0-9A-Za-z+])(?<!\d\.)"
    r"(?:(?:\+|00)86[ -]?)?"
    r"1[3-9]\d(?P<middle>[ -]?\d{4})[ -]?\d{4}"
    r"(?![0-9A-Za-z])(?!\.\d)",
    re.ASCII,
)


def mask_phones(text: str) -> str:
    """Return text with the middle four digits of each mobile number starred: 138****5678,
    +86 138-****-5678, １３８****５６７８ (the prefix and separators are kept)."""
    folded = text.translate(_FOLD)
    parts: list[str] = []
    last = 0
    for match in _PHONE.finditer(folded):
        start, end = match.span("middle")
        starred = (
            "*" if ch.isdigit() else text[start + i] for i, ch in enumerate(folded[start:end])
        )
        parts += [text[last:start], "".join(starred)]
        last = end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


class MaskPhones(logging.Filter):
    """Mask mobile numbers (mask_phones) in the rendered message and in the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # Arguments that do not fit the format: logging's own error report would print
            # them unmasked, so show the format and the arguments side by side instead.
            message = f"{record.msg} (log arguments not matching the format: {record.args!r})"
            record.args = ()
            record.msg = message.replace("%", "%%")
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, None
        # A driver's error can quote the row (PostgreSQL: "Key (phone)=(138…) already exists").
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phones(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phones(record.stack_info)
        return True


def setup(level: str) -> None:
    """Configure the root logger once; later calls only change the level."""
    root = logging.getLogger()
    root.setLevel(level)
    if any(isinstance(f, MaskPhones) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskPhones())
    root.addHandler(handler)
    # APScheduler logs every run of every job at INFO; our runner logs what matters.
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING))


# Tables whose rows hold secrets (tokens, robot keys): peewee's DEBUG lines show their
# statements with the parameters masked.
_SECRET_TABLES: set[str] = set()


class RedactSqlParams(logging.Filter):
    """Mask the parameters of peewee's DEBUG query lines on tables that hold secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if (
            isinstance(msg, tuple)
            and len(msg) == 2
            and isinstance(msg[0], str)
            and msg[1]
            and any(table in msg[0] for table in _SECRET_TABLES)
        ):
            record.msg = (msg[0], ["***"] * len(msg[1]))
        return True


def redact_sql_params_of(table: str) -> None:
    """Never log the parameters of statements on this table."""
    _SECRET_TABLES.add(table)
    peewee_log = logging.getLogger("peewee")
    if not any(isinstance(f, RedactSqlParams) for f in peewee_log.filters):
        peewee_log.addFilter(RedactSqlParams())
