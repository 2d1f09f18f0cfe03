"""Logging set-up: a readable line or a JSON object per record, and mainland mobile numbers
masked in every record."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# What every LogRecord has; anything else on a record came from the call's ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: time (ISO 8601 in the app's zone), level,
    logger, message, then the record's extra fields, the traceback (exc) and the stack.

    Runs after MaskPhones, which has masked the message and the traceback; the extra fields'
    texts are masked here. Numbers stay numbers; other values are written as their text.
    """

    def __init__(self, timezone: str = "Asia/Shanghai") -> None:
        super().__init__()
        self.zone = ZoneInfo(timezone)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, self.zone).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_") and name not in entry:
                entry[name] = _plain(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_phones(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """An extra field as JSON: booleans, numbers and None as they are, the rest as masked text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_phones(str(value))


def _formatter(log_format: str, timezone: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(timezone)
    return logging.Formatter(TEXT_FORMAT)


def setup(level: str, log_format: str = "text", timezone: str = "Asia/Shanghai") -> None:
    """Configure the root logger: one handler (added once), its format ("text" or "json",
    the JSON times in ``timezone``) and the level; later calls change the format and level."""
    root = logging.getLogger()
    root.setLevel(level)
    ours = [h for h in root.handlers if any(isinstance(f, MaskPhones) for f in h.filters)]
    if not ours:
        handler = logging.StreamHandler()
        handler.addFilter(MaskPhones())
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(_formatter(log_format, timezone))
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
