"""Dues amounts to the fen: money parsing, the 2008 table at each bracket edge, the rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.config import ConfigError, defaults, load, parse_rates
from handlers.dues import MoneyError, fen_to_text, monthly_amount, yuan, yuan_to_fen

SETTINGS = defaults()


# ---- money text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("300.00", 30000),
        ("300", 30000),
        ("300.5", 30050),
        ("300.", 30000),
        ("0.01", 1),
        ("0", 0),
        ("¥1,000.00", 100000),
        ("￥25.50元", 2550),
        ("３００元", 30000),  # full-width digits from a phone keyboard
        (" 12,345,678.90 ", 1234567890),
        ("007.10", 710),
    ],
)
def test_yuan_to_fen_reads_what_people_type(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen
    assert isinstance(yuan_to_fen(text), int)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("300.001", "3 位小数"),
        ("0.005", "精确到分"),
        ("-5", "负数"),
        ("-0.01", "负数"),
        ("¥-5", "负数"),
        ("−5", "负数"),  # the Unicode minus sign
        ("abc", "没看懂"),
        ("三百", "阿拉伯数字"),
        ("1e3", "没看懂"),
        ("1,00", "没看懂"),  # not a thousands grouping
        ("", "没看懂"),
        ("300.00.00", "没看懂"),
        ("99999999999", "不合常理"),
        ("nan", "没看懂"),
        ("inf", "没看懂"),
    ],
)
def test_yuan_to_fen_refuses_with_a_reason_and_an_example(text: str, says: str) -> None:
    with pytest.raises(MoneyError) as caught:
        yuan_to_fen(text)
    assert says in caught.value.message
    assert "例如" in caught.value.message or "核对" in caught.value.message


def test_yuan_to_fen_refuses_above_the_given_maximum() -> None:
    assert yuan_to_fen("100000.00", max_fen=10000000) == 10000000
    with pytest.raises(MoneyError, match="超过上限 100000.00元"):
        yuan_to_fen("100000.01", max_fen=10000000)


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (30000, "300.00元"),
        (1, "0.01元"),
        (0, "0.00元"),
        (-150, "-1.50元"),
        (1234567, "12345.67元"),
    ],
)
def test_fen_to_text(fen: int, text: str) -> None:
    assert fen_to_text(fen) == text
    assert yuan(fen) == text.removesuffix("元")


@pytest.mark.parametrize("bad", [300.0, Decimal("300"), "300", True])
def test_fen_to_text_refuses_anything_but_integer_fen(bad: Any) -> None:
    with pytest.raises(TypeError):
        fen_to_text(bad)


# ---- the table (DOMAIN.md) ------------------------------------------------------------------

TABLE = [
    # category, base in yuan, monthly dues in yuan
    ("in_service", "0.01", "0.00"),
    ("in_service", "1.00", "0.01"),  # 0.5 fen rounds half-up to 1 fen
    ("in_service", "2000.00", "10.00"),
    ("in_service", "2997.00", "14.99"),  # 1498.5 fen: half-up, not to even (14.98)
    ("in_service", "3000.00", "15.00"),  # top of the 0.5% bracket
    ("in_service", "3000.01", "30.00"),  # the whole base at 1%: 3000.01 fen → 30.00
    ("in_service", "4321.99", "43.22"),
    ("in_service", "5000.00", "50.00"),
    ("in_service", "5000.01", "75.00"),  # 7500.015 fen → 75.00
    ("in_service", "5003.00", "75.05"),  # 7504.5 fen → 7505 (half-up)
    ("in_service", "8000.00", "120.00"),
    ("in_service", "10000.00", "150.00"),
    ("in_service", "10000.01", "200.00"),  # 20000.02 fen → 200.00
    ("in_service", "25000.25", "500.01"),  # 50000.5 fen → 50001
    ("retired", "3000.00", "15.00"),
    ("retired", "4997.00", "24.99"),  # 2498.5 fen → 2499 (half-up)
    ("retired", "5000.00", "25.00"),
    ("retired", "5000.01", "50.00"),
    ("retired", "8000.00", "80.00"),
    ("retired", "12000.00", "120.00"),  # retirees have no 1.5% or 2% bracket
]


@pytest.mark.parametrize(("category", "base", "dues"), TABLE)
def test_the_table_to_the_fen(category: str, base: str, dues: str) -> None:
    fen = monthly_amount(category, yuan_to_fen(base), None, SETTINGS)
    assert isinstance(fen, int)
    assert fen_to_text(fen) == dues + "元"


def test_every_other_category() -> None:
    assert monthly_amount("farmer", None, 50, SETTINGS) == 50
    assert monthly_amount("farmer", None, 100, SETTINGS) == 100
    assert monthly_amount("student", None, None, SETTINGS) == 20  # 0.2 yuan
    assert monthly_amount("exempt", None, None, SETTINGS) == 0
    with pytest.raises(ValueError, match="unknown"):
        monthly_amount("astronaut", 100, None, SETTINGS)
    with pytest.raises(ValueError, match="without a base"):
        monthly_amount("in_service", None, None, SETTINGS)


def test_every_base_from_0_to_20000_yuan_in_steps_matches_an_independent_computation() -> None:
    """The brackets by integer arithmetic only: rate in tenths of a percent, half-up by hand."""
    in_service = [(300000, 5), (500000, 10), (1000000, 15), (None, 20)]  # per mille × 10
    retired = [(500000, 5), (None, 10)]

    def by_hand(base: int, table: list[tuple[int | None, int]]) -> int:
        rate = next(r for limit, r in table if limit is None or base <= limit)
        return (base * rate * 2 + 1000) // 2000  # base × rate / 1000, half-up

    for base in list(range(0, 2000001, 997)) + [300000, 300001, 500000, 500001, 1000000]:
        assert monthly_amount("in_service", base, None, SETTINGS) == by_hand(base, in_service)
        assert monthly_amount("retired", base, None, SETTINGS) == by_hand(base, retired)


# ---- the rates are configuration -------------------------------------------------------------


def test_default_rates_are_the_official_table() -> None:
    assert parse_rates(SETTINGS.dues.in_service_rates) == [
        (300000, Decimal("0.005")),
        (500000, Decimal("0.01")),
        (1000000, Decimal("0.015")),
        (None, Decimal("0.02")),
    ]
    assert parse_rates(SETTINGS.dues.retired_rates) == [
        (500000, Decimal("0.005")),
        (None, Decimal("0.01")),
    ]


def test_a_province_may_set_its_own_rates() -> None:
    settings = load({"dues": {"in_service_rates": "4000=0.5%, 1.2%"}}, environ={})
    assert monthly_amount("in_service", 400000, None, settings) == 2000
    assert monthly_amount("in_service", 400001, None, settings) == 4800  # 4800.012 fen
    flat = load({"dues": {"retired_rates": "0.8%"}}, environ={})
    assert monthly_amount("retired", 1000000, None, flat) == 8000


@pytest.mark.parametrize(
    "table",
    [
        "3000=0.5%, 2000=1%, 2%",  # limits must rise
        "3000=0.5%, 1%, 2%",  # only the last bracket is open-ended
        "3000=0.5%",  # no open-ended bracket
        "3000=0.5, 1%",  # rates are percentages
        "3000=abc%, 1%",
        "3000=150%, 1%",
        "-5=1%, 2%",
        "",
    ],
)
def test_a_wrong_rate_table_stops_start_up_naming_the_key(table: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load({"dues": {"in_service_rates": table}}, environ={})
    assert caught.value.key == "dues.in_service_rates"
