"""Logging set-up: one format, and mainland mobile numbers masked in every record."""

from __future__ import annotations

import logging
import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


class MaskPhones(logging.Filter):
    """Rewrite 13812345678 as 138****5678 in the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE.sub(r"\1****\2", message)
        if masked != message:
            record.msg, record.args = masked, None
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
