"""The settings' building blocks: each value's check (its text is the one-line error),
the annotated field types built on them, the Section base, and the demo's public
credentials that the sections default to."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic_settings import (
    NoDecode,
)

ENV_PREFIX = "ZHIBU_"

# Demo credentials: public, for the local fake WeChat only. Production sets its own.
DEMO_TOKEN = "zhibudemotoken"  # noqa: S105 - demo only, documented as public
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEMO_APPID = "wxdemoappid000001"
# The demo's signing key, also the value in config.example.toml: refused outside the demo.
DEMO_SECRET_KEY = "demo-secret-key-change-me"  # noqa: S105 - demo only, documented as public
EXAMPLE_SECRET_KEYS = frozenset({DEMO_SECRET_KEY})
MIN_SECRET_KEY_BYTES = 32


def check_aes_key(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) != 43:
        return "expected the 43-character EncodingAESKey from the WeChat admin console"
    try:
        if len(base64.b64decode(value + "=", validate=True)) != 32:
            return "expected 43 base64 characters decoding to 32 bytes"
    except (binascii.Error, ValueError):
        return "expected 43 base64 characters (A-Z, a-z, 0-9, +, /)"
    return None


def check_timezone(value: Any) -> str | None:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        return "expected an IANA time zone name such as Asia/Shanghai"
    return None


def check_db_url(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith(
        ("sqlite:///", "postgresql://", "postgres://")
    ):
        return "expected sqlite:///path/to/file.db or postgresql://user@host:port/dbname"
    return None


def one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"expected one of {', '.join(choices)}"

    return check


PERIODS = ("month", "quarter", "year", "none")


def check_cron(value: Any) -> str | None:
    fields = value.split() if isinstance(value, str) else []
    if len(fields) != 5:
        return "expected 5 cron fields: minute hour day month day-of-week, e.g. '0 8 * * *'"
    if any(ch.isdigit() for ch in fields[4]):
        return "write the day of week by name (mon, tue, … sun), e.g. '0 9 * * sat'"
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        return f"not a valid cron string ({exc})"
    return None


def check_iso_dates(value: Any) -> str | None:
    from datetime import date

    for item in value:
        try:
            date.fromisoformat(str(item))
        except ValueError:
            return f'expected a list of dates like "2026-10-01", got {item!r}'
    return None


def check_positive(value: Any) -> str | None:
    return None if value > 0 else "expected a number greater than 0"


def between(least: int, most: int) -> Callable[[Any], str | None]:
    return lambda v: None if least <= v <= most else f"expected {least} to {most}"


def check_http_url(value: Any) -> str | None:
    if value.startswith(("http://", "https://")) and len(value) > len("https://"):
        return None if not value.endswith("/") else "expected no trailing '/'"
    return "expected an http:// or https:// address"


def check_nonempty(value: Any) -> str | None:
    return None if value.strip() else "expected a non-empty string"


def parse_rates(text: str) -> list[tuple[int | None, Decimal]]:
    """Read a dues rate table "3000=0.5%, 5000=1%, 2%" as [(limit in fen or None, rate)].

    Each "limit=rate" bracket covers bases up to and including the limit (yuan); the last, bare,
    rate covers everything above. Limits must rise; rates are percentages from 0 to 100.
    """
    brackets: list[tuple[int | None, Decimal]] = []
    parts = [p.strip() for p in text.split(",")]
    for index, part in enumerate(parts):
        limit_text, _, rate_text = part.rpartition("=")
        last = index == len(parts) - 1
        if bool(limit_text) == last or not rate_text.endswith("%"):
            raise ValueError(f"bracket {part!r}: expected limit=rate% (the last one rate% only)")
        try:
            rate = Decimal(rate_text[:-1].strip()) / 100
            limit = None if last else int(Decimal(limit_text.strip()) * 100)
        except InvalidOperation:
            raise ValueError(f"bracket {part!r}: not a number") from None
        if not 0 <= rate <= 1 or (limit is not None and limit <= 0):
            raise ValueError(f"bracket {part!r}: rate must be 0-100% and the limit positive")
        if limit is not None and brackets and limit <= (brackets[-1][0] or 0):
            raise ValueError(f"bracket {part!r}: limits must rise")
        brackets.append((limit, rate))
    return brackets


def check_rates(value: Any) -> str | None:
    try:
        parse_rates(value)
    except ValueError as exc:
        return f"expected a rate table such as '3000=0.5%, 5000=1%, 2%' ({exc})"
    return None


# ---- the settings, typed ------------------------------------------------------------------


def checked(check: Callable[[Any], str | None]) -> AfterValidator:
    """Run one of the checks above after the type is right; its text becomes the error."""

    def run(value: Any) -> Any:
        problem = check(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(run)


def comma_list(value: Any) -> Any:
    """An environment variable gives a list as comma-separated text."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def at_least(least: int, text: str | None = None) -> AfterValidator:
    return checked(lambda v: None if v >= least else text or f"expected >= {least}")


Positive = Annotated[int, checked(check_positive)]
PositiveFloat = Annotated[float, checked(check_positive)]
NonEmpty = Annotated[str, checked(check_nonempty)]
Cron = Annotated[str, checked(check_cron)]
Period = Annotated[str, checked(one_of(*PERIODS))]
Rates = Annotated[str, checked(check_rates)]
Dates = Annotated[list[str], NoDecode, BeforeValidator(comma_list), checked(check_iso_dates)]


class Section(BaseModel):
    """One table of config.toml. Unknown keys are refused; assignments are checked too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=False)
