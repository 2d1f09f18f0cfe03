"""Money in integer fen: parsing and rendering yuan, the monthly amount by the rate tables."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from core.config import Settings, parse_rates
from handlers.errors import DomainError

# More integer digits than this in an amount is a typo, whatever the configured maximum.
MAX_DIGITS = 10


class MoneyError(DomainError):
    """An amount that is not a valid sum of money in yuan with at most two decimals."""

    errcode = "invalid_amount"


_AMOUNT = re.compile(r"(\d+)(?:\.(\d*))?")
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def yuan_to_fen(text: str, *, max_fen: int | None = None, what: str = "金额") -> int:
    """Parse "300", "300.5", "¥1,000.00" or "25.50元" into integer fen; refuse anything else.

    More than two decimals, negative numbers, words and amounts above max_fen are refused with
    a Chinese message naming the problem. Zero is accepted; callers refuse it where it is wrong.
    """
    raw = str(text).strip()
    s = unicodedata.normalize("NFKC", raw).replace(" ", "")
    s = s.removeprefix("RMB").removeprefix("¥").removesuffix("元")
    if s[:1] in ("-", "−") or s[1:2] in ("-", "−"):
        raise MoneyError(f"{what}“{raw}”是负数。请填写正数，例如：300.00")
    s = s.removeprefix("+").removeprefix("¥")
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    match = _AMOUNT.fullmatch(s)
    if match is None:
        raise MoneyError(
            f"没看懂{what}“{raw}”。请用阿拉伯数字填写，单位为元，最多两位小数，例如：300.00"
        )
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > 2:
        raise MoneyError(f"{what}“{raw}”有 {len(frac)} 位小数：金额只能精确到分，例如：25.50")
    if len(whole.lstrip("0")) > MAX_DIGITS:
        raise MoneyError(f"{what}“{raw}”大得不合常理，请核对是否多写了数字。")
    fen = int(whole) * 100 + int(frac.ljust(2, "0"))
    if max_fen is not None and fen > max_fen:
        raise MoneyError(f"{what}“{raw}”超过上限 {fen_to_text(max_fen)}，请核对是否多写了数字。")
    return fen


def fen_to_text(fen: int) -> str:
    """Render integer fen as yuan: 30000 → "300.00元", -150 → "-1.50元"."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"money must be integer fen, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}元"


def yuan(fen: int) -> str:
    """Render fen as the number a person types: 30000 → "300.00"."""
    return fen_to_text(fen).removesuffix("元")


def bracket_amount(base_fen: int, brackets: Sequence[tuple[int | None, Decimal]]) -> int:
    """Return the whole base at its bracket's rate, rounded half-up to the fen."""
    for limit, rate in brackets:
        if limit is None or base_fen <= limit:
            return int((Decimal(base_fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    raise ValueError("rate table has no open-ended last bracket")


@lru_cache(maxsize=16)
def _brackets(table: str) -> tuple[tuple[int | None, Decimal], ...]:
    """Parse a rate table once (the all-branch functions price many member-months)."""
    return tuple(parse_rates(table))


@lru_cache(maxsize=16)
def _ratios(table: str) -> tuple[tuple[int | None, int, int], ...]:
    """The rate table with each rate as an exact fraction p / q."""
    return tuple((limit, *rate.as_integer_ratio()) for limit, rate in _brackets(table))


def _bracket_fen(base_fen: int, table: str) -> int:
    """bracket_amount in integers (the all-branch views price tens of thousands of bases):
    base x p / q rounded half up is floor((2 base p + q) / 2q) for a base >= 0, the same as the
    Decimal product, which is exact for bases this size."""
    if not 0 <= base_fen < 10**15:
        return bracket_amount(base_fen, _brackets(table))
    for limit, p, q in _ratios(table):
        if limit is None or base_fen <= limit:
            return (2 * base_fen * p + q) // (2 * q)
    raise ValueError("rate table has no open-ended last bracket")


def monthly_amount(
    category: str, base_fen: int | None, fixed_fen: int | None, settings: Settings
) -> int:
    """Return the table's monthly dues in fen for a category and base (DOMAIN.md)."""
    cfg = settings.dues
    return _amount(
        category,
        base_fen,
        fixed_fen,
        cfg.in_service_rates,
        cfg.retired_rates,
        cfg.student_fen,
    )


def amount_of(
    category: str,
    base_fen: int | None,
    fixed_fen: int | None,
    in_service_rates: str,
    retired_rates: str,
    student_fen: int,
) -> int:
    """monthly_amount with the settings it reads as arguments, so that it can be cached
    (_amount)."""
    if category == "in_service":
        return _bracket_fen(_base(base_fen), in_service_rates)
    if category == "retired":
        return _bracket_fen(_base(base_fen), retired_rates)
    if category == "farmer":
        if fixed_fen is None:
            raise ValueError("farmer without the amount the branch set")
        return fixed_fen
    if category == "student":
        return int(student_fen)
    if category == "exempt":
        return 0
    raise ValueError(f"unknown dues category {category!r}")


# monthly_amount's cache; the all-branch views price each member's base once without it
# (Ledger.fen): 100,000 members' bases would only churn it.
_amount = lru_cache(maxsize=4096)(amount_of)


def _base(base_fen: int | None) -> int:
    if base_fen is None:
        raise ValueError("a based category without a base")
    return base_fen
