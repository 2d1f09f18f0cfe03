"""Mobile numbers are masked in logs in every written form, and nothing else is."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest
import time_machine

from core import logs
from core.logs import MaskPhones, mask_phones

MASKED = [
    ("13812345678", "138****5678"),
    ("member 13812345678 bound", "member 138****5678 bound"),
    ("+8613812345678", "+86138****5678"),
    ("+86 13812345678", "+86 138****5678"),
    ("+86-138-1234-5678", "+86-138-****-5678"),
    ("+86 138 1234 5678", "+86 138 **** 5678"),
    ("008613812345678", "0086138****5678"),
    ("0086 138 1234 5678", "0086 138 **** 5678"),
    ("(+86)13812345678", "(+86)138****5678"),
    ("138-1234-5678", "138-****-5678"),
    ("138 1234 5678", "138 **** 5678"),
    ("138-1234 5678", "138-**** 5678"),  # mixed separators
    ("1381234-5678", "138****-5678"),
    ("１３８１２３４５６７８", "１３８****５６７８"),  # full-width digits
    ("＋８６ １３８－１２３４－５６７８", "＋８６ １３８－****－５６７８"),
    ("138\u30001234\u30005678", "138\u3000****\u30005678"),  # ideographic spaces
    ("+86 １３８ 1234 ５６７８", "+86 １３８ **** ５６７８"),  # half and full width mixed
    ("手机13812345678已绑定", "手机138****5678已绑定"),
    ("tel:13812345678,15912345678", "tel:138****5678,159****5678"),
    ("phone=19912345678;", "phone=199****5678;"),
    ("Key (phone)=(13812345678) already exists.", "Key (phone)=(138****5678) already exists."),
]

NOT_PHONES = [
    "order 2026112613812345678",  # an order number holding 11 phone-like digits
    "id=138123456789",  # 12 digits
    "outbox row 3138123456",  # 10 digits
    "at 1764140400123 ms",  # a millisecond timestamp
    "2026-11-26 13:45:12,345",  # a formatted timestamp
    "20261126134512",  # a compact timestamp
    "token a13812345678f",  # inside a hex token
    "13812345678abc",
    "amount 3.13812345678",  # a decimal
    "13812345678.25 yuan",
    "12812345678",  # 12x is not a mobile prefix
    "+86 10 1234 5678",  # a landline
    "6222 0213 8123 4567",  # a card number in groups
    "138 1234 567",  # too short
    "",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_phone_forms_are_masked(text: str, expected: str) -> None:
    assert mask_phones(text) == expected


@pytest.mark.parametrize("text", NOT_PHONES)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_phones(text) == text


def _record(msg: str, args: tuple = (), exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("zhibu.test", logging.INFO, __file__, 1, msg, args, exc_info)


def test_the_filter_masks_arguments_tracebacks_and_bad_calls() -> None:
    record = _record("member %s bound", ("+86 138-1234-5678",))
    MaskPhones().filter(record)
    assert record.getMessage() == "member +86 138-****-5678 bound"
    try:
        raise ValueError("duplicate phone 13912345678")
    except ValueError:
        record = _record("import failed", exc_info=sys.exc_info())
    MaskPhones().filter(record)
    assert "139****5678" in record.exc_text and "13912345678" not in record.exc_text
    # Arguments that do not fit the format would be printed raw by logging's error report.
    record = _record("member %s %s", ("13812345678",))
    MaskPhones().filter(record)
    assert "138****5678" in record.getMessage() and "13812345678" not in record.getMessage()


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """The root handler logs.setup installs, writing into a buffer."""
    root = logging.getLogger()
    level = root.level
    logs.setup("INFO")
    (handler,) = [h for h in root.handlers if any(isinstance(f, MaskPhones) for f in h.filters)]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(old)
        root.setLevel(level)


def test_a_log_record_goes_out_masked_through_the_configured_handler(
    configured: io.StringIO,
) -> None:
    log = logging.getLogger("zhibu.roundtrip")
    log.info("bound %s from %s", "１３８１２３４５６７８", "+86 139 1234 5678")
    log.warning("order %s paid at %s", "2026112613812345678", "1764140400123")
    try:
        raise RuntimeError("row (phone)=(0086-150-1234-5678) exists")
    except RuntimeError:
        log.exception("insert failed")
    out = configured.getvalue()
    assert "bound １３８****５６７８ from +86 139 **** 5678" in out
    assert "order 2026112613812345678 paid at 1764140400123" in out
    assert "row (phone)=(0086-150-****-5678) exists" in out
    for raw in ("１２３４", "139 1234", "150-1234"):
        assert raw not in out


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The root handler in the JSON format (times in Asia/Shanghai), writing into a buffer."""
    root = logging.getLogger()
    level = root.level
    logs.setup("INFO", "json", "Asia/Shanghai")
    (handler,) = [h for h in root.handlers if any(isinstance(f, MaskPhones) for f in h.filters)]
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(old)
        logs.setup(logging.getLevelName(level), "text")


@pytest.mark.clock("2026-12-07T10:00:00.250+08:00")
def test_json_lines_carry_time_level_logger_message_and_the_extra_fields(
    json_lines: io.StringIO,
) -> None:
    log = logging.getLogger("zhibu.json")
    # The marker's clock ticks: held still here, so the milliseconds are exactly the pinned ones
    # however long the set-up took.
    with time_machine.travel(datetime.fromisoformat("2026-12-07T10:00:00.250+08:00"), tick=False):
        log.info("bound %s", "13812345678", extra={"member_id": 42, "openid": "oX 139-1234-5678"})
        try:
            raise RuntimeError("row (phone)=(15012345678) exists")
        except RuntimeError:
            log.exception("insert failed")
    first, second = (json.loads(line) for line in json_lines.getvalue().splitlines())
    assert first == {
        "time": "2026-12-07T10:00:00.250+08:00",
        "level": "INFO",
        "logger": "zhibu.json",
        "message": "bound 138****5678",
        "member_id": 42,
        "openid": "oX 139-****-5678",
    }
    assert second["level"] == "ERROR" and second["message"] == "insert failed"
    assert "RuntimeError: row (phone)=(150****5678) exists" in second["exc"]
    assert "15012345678" not in json_lines.getvalue()


def test_setup_switches_the_format_back_to_text(json_lines: io.StringIO) -> None:
    logs.setup("INFO", "text")
    logging.getLogger("zhibu.text").warning("plain again")
    (line,) = json_lines.getvalue().splitlines()
    assert line.endswith(" WARNING zhibu.text: plain again")
