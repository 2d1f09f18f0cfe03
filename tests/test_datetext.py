"""Tests for core.datetext: forgiving Chinese date and time parsing for meetings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.datetext import (
    DateTextError,
    When,
    format_when,
    parse_date,
    parse_month,
    parse_month_range,
    parse_period,
    parse_when,
)

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=TZ)  # a Thursday morning
EIGHT_HOURS = timedelta(hours=8)


def when(text: str, now: datetime = NOW, **kw: int) -> When:
    """Parse with the fixed now and zone."""
    return parse_when(text, now=now, tz=TZ, **kw)


def error(text: str, now: datetime = NOW) -> str:
    """Return the message of the error parse_when raises for text."""
    with pytest.raises(DateTextError) as caught:
        parse_when(text, now=now, tz=TZ)
    assert str(caught.value) == caught.value.message
    return caught.value.message


def test_fixed_now_is_a_thursday() -> None:
    assert NOW.weekday() == 3
    assert datetime(2026, 12, 30, tzinfo=TZ).weekday() == 2


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("12月3日 15:00", date(2026, 12, 3)),
        ("12月3号 15:00", date(2026, 12, 3)),
        ("12月3 15:00", date(2026, 12, 3)),
        ("12/3 15:00", date(2026, 12, 3)),
        ("12-3 15:00", date(2026, 12, 3)),
        ("2026年12月3日 15:00", date(2026, 12, 3)),
        ("26年12月3日 15:00", date(2026, 12, 3)),
        ("二〇二六年十二月三日 15:00", date(2026, 12, 3)),
        ("2026-12-03 15:00", date(2026, 12, 3)),
        ("2026/12/3 15:00", date(2026, 12, 3)),
        ("2026.12.3 15:00", date(2026, 12, 3)),
        ("20261203 15:00", date(2026, 12, 3)),
        ("今天 15:00", date(2026, 11, 26)),
        ("今日 15:00", date(2026, 11, 26)),
        ("明天 15:00", date(2026, 11, 27)),
        ("后天 15:00", date(2026, 11, 28)),
        ("大后天 15:00", date(2026, 11, 29)),
        ("周五 15:00", date(2026, 11, 27)),
        ("星期五 15:00", date(2026, 11, 27)),
        ("礼拜五 15:00", date(2026, 11, 27)),
        ("周六 15:00", date(2026, 11, 28)),
        ("周日 15:00", date(2026, 11, 29)),
        ("星期天 15:00", date(2026, 11, 29)),
        ("周一 15:00", date(2026, 11, 30)),
        ("周三 15:00", date(2026, 12, 2)),
        ("下周三 15:00", date(2026, 12, 2)),
        ("下星期三 15:00", date(2026, 12, 2)),
        ("下个礼拜三 15:00", date(2026, 12, 2)),
        ("下周四 15:00", date(2026, 12, 3)),
        ("下周日 15:00", date(2026, 12, 6)),
        ("下下周一 15:00", date(2026, 12, 7)),
        ("本周五 15:00", date(2026, 11, 27)),
        ("这周五 15:00", date(2026, 11, 27)),
        ("本周一 15:00", date(2026, 11, 23)),  # already past: kept, the caller refuses it
        ("上周三 15:00", date(2026, 11, 18)),
        ("1月5日 15:00", date(2027, 1, 5)),
        ("11月26日 15:00", date(2026, 11, 26)),
        ("11月25日 15:00", date(2027, 11, 25)),
        ("2025年3月1日 15:00", date(2025, 3, 1)),
        ("2月29日 15:00", date(2028, 2, 29)),
        ("十二月三日 15:00", date(2026, 12, 3)),
        ("十二月三号 15:00", date(2026, 12, 3)),
        ("十一月三十日 15:00", date(2026, 11, 30)),
        ("十二月三十一日 15:00", date(2026, 12, 31)),
        ("一月二十日 15:00", date(2027, 1, 20)),
        ("28号 15:00", date(2026, 11, 28)),
        ("3号 15:00", date(2026, 12, 3)),
        ("十五日 15:00", date(2026, 12, 15)),
        ("31号 15:00", date(2026, 12, 31)),
    ],
)
def test_date_forms(text: str, day: date) -> None:
    result = when(text)
    assert result.start.date() == day
    assert result.start.hour == 15 and result.start.minute == 0


@pytest.mark.parametrize(
    ("text", "hour", "minute"),
    [
        ("15:00", 15, 0),
        ("15：00", 15, 0),
        ("15点", 15, 0),
        ("15时", 15, 0),
        ("15点钟", 15, 0),
        ("15点整", 15, 0),
        ("15点半", 15, 30),
        ("15点30", 15, 30),
        ("15点30分", 15, 30),
        ("15时30分", 15, 30),
        ("15点5分", 15, 5),
        ("下午3点", 15, 0),
        ("下午 3点", 15, 0),
        ("下午三点半", 15, 30),
        ("下午3:30", 15, 30),
        ("下午15点", 15, 0),
        ("上午9:30", 9, 30),
        ("上午九点", 9, 0),
        ("上午12点", 12, 0),
        ("晚上7点", 19, 0),
        ("晚7点", 19, 0),
        ("晚上七点半", 19, 30),
        ("晚上19:30", 19, 30),
        ("傍晚6点", 18, 0),
        ("中午12点", 12, 0),
        ("中午12点半", 12, 30),
        ("中午1点", 13, 0),
        ("早上8点", 8, 0),
        ("早晨8点", 8, 0),
        ("凌晨5点", 5, 0),
        ("9点", 9, 0),
        ("8:00", 8, 0),
        ("12点", 12, 0),
        ("十二点", 12, 0),
        ("二十点", 20, 0),
        ("二十点三十分", 20, 30),
        ("十点零五", 10, 5),
        ("三点一刻", 15, 15),
        ("三点三刻", 15, 45),
        ("三点十五", 15, 15),
        ("三点四十分", 15, 40),
        ("03:00", 3, 0),
        ("0:30", 0, 30),
        ("15:00:00", 15, 0),
    ],
)
def test_time_forms(text: str, hour: int, minute: int) -> None:
    result = when(f"12月3日 {text} 三楼会议室")
    assert (result.start.hour, result.start.minute) == (hour, minute)
    assert result.start.date() == date(2026, 12, 3)
    assert result.end is None
    assert result.rest == "三楼会议室"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("3点", "15:00"),
        ("3:00", "15:00"),
        ("两点", "14:00"),
        ("六点半", "18:30"),
        ("1点", "13:00"),
    ],
)
def test_bare_hours_one_to_six_are_afternoon_and_say_so(text: str, shown: str) -> None:
    result = when(f"12月3日 {text}")
    assert result.understood.startswith(f"2026年12月3日（星期四）{shown}")
    assert f"“{text}”未写上午/下午，按下午理解" in result.understood


@pytest.mark.parametrize("text", ["下午3点", "15:00", "7点", "03:00", "上午6点"])
def test_explicit_hours_carry_no_afternoon_note(text: str) -> None:
    assert "按下午理解" not in when(f"12月3日 {text}").understood


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("15:00-17:00", "15:00", "17:00"),
        ("15:00—17:00", "15:00", "17:00"),
        ("15:00——17:00", "15:00", "17:00"),
        ("15:00–17:00", "15:00", "17:00"),
        ("15:00~17:00", "15:00", "17:00"),
        ("15:00～17:00", "15:00", "17:00"),
        ("15:00〜17:00", "15:00", "17:00"),
        ("15:00 - 17:00", "15:00", "17:00"),
        ("15：00－17：00", "15:00", "17:00"),
        ("15:00至17:00", "15:00", "17:00"),
        ("15:00到17:00", "15:00", "17:00"),
        ("15点到17点", "15:00", "17:00"),
        ("15点-17点半", "15:00", "17:30"),
        ("下午3点到5点", "15:00", "17:00"),
        ("下午三点到五点半", "15:00", "17:30"),
        ("下午3点到晚上7点", "15:00", "19:00"),
        ("下午3-5点", "15:00", "17:00"),
        ("3-5点", "15:00", "17:00"),
        ("3点到5点", "15:00", "17:00"),
        ("14:30-16", "14:30", "16:00"),
        ("14:30-16:15", "14:30", "16:15"),
        ("9点到11点", "9:00", "11:00"),
        ("上午9点到11点半", "9:00", "11:30"),
        ("上午11点到1点", "11:00", "13:00"),
        ("上午10点到13点", "10:00", "13:00"),
        ("11:00-1:00", "11:00", "13:00"),
        ("中午12点到2点", "12:00", "14:00"),
        ("晚上7点到9点", "19:00", "21:00"),
        ("20:00-24:00", "20:00", "24:00"),
    ],
)
def test_time_ranges(text: str, start: str, end: str) -> None:
    result = when(f"12月3日 {text} 三楼会议室")
    assert result.end is not None
    assert f"{start}—{end}" in result.understood
    assert result.end > result.start
    assert result.rest == "三楼会议室"


def test_range_values() -> None:
    result = when("12月3日 下午3点到5点")
    assert result.start == datetime(2026, 12, 3, 15, 0, tzinfo=TZ)
    assert result.end == datetime(2026, 12, 3, 17, 0, tzinfo=TZ)
    midnight = when("12月3日 20:00-24:00")
    assert midnight.end == datetime(2026, 12, 4, 0, 0, tzinfo=TZ)


@pytest.mark.parametrize("text", ["17:00-15:00", "15:00-15:00", "下午3点到1点", "16:00-8:00"])
def test_end_not_after_start_is_refused(text: str) -> None:
    message = error(f"12月3日 {text}")
    assert "结束时间" in message and "不晚于开始时间" in message
    assert "2026年12月3日（星期四）" in message  # what was understood
    assert "例如：" in message


def test_weekday_today_counts_while_the_time_is_ahead() -> None:
    assert when("周四 15:00").start.date() == date(2026, 11, 26)
    assert when("星期四 10:30").start.date() == date(2026, 11, 26)
    assert "已过" not in when("周四 15:00").understood


@pytest.mark.parametrize("clock", ["9:00", "10:00", "上午8点"])
def test_weekday_today_moves_a_week_once_the_time_has_passed(clock: str) -> None:
    result = when(f"周四 {clock}")
    assert result.start.date() == date(2026, 12, 3)
    assert "今天的这个时间已过，按下周四理解" in result.understood


def test_weekday_after_the_time_in_the_afternoon() -> None:
    afternoon = datetime(2026, 11, 26, 16, 0, tzinfo=TZ)
    assert when("周四 15:00", now=afternoon).start.date() == date(2026, 12, 3)
    assert when("周四 17:00", now=afternoon).start.date() == date(2026, 11, 26)
    assert when("本周四 15:00", now=afternoon).start.date() == date(2026, 11, 26)
    assert when("下周四 15:00", now=afternoon).start.date() == date(2026, 12, 3)


@pytest.mark.parametrize(
    ("now", "text", "day"),
    [
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "1月2日 15:00", date(2027, 1, 2)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "12月31日 15:00", date(2026, 12, 31)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "12月30日 15:00", date(2026, 12, 30)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "12月29日 15:00", date(2027, 12, 29)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "1/2 15:00", date(2027, 1, 2)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "2号 15:00", date(2027, 1, 2)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "下周一 15:00", date(2027, 1, 4)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "后天 15:00", date(2027, 1, 1)),
        (datetime(2026, 12, 30, 10, 0, tzinfo=TZ), "明年1月2日 15:00", date(2027, 1, 2)),
    ],
)
def test_year_rollover(now: datetime, text: str, day: date) -> None:
    assert when(text, now=now).start.date() == day


def test_rollover_names_the_year() -> None:
    result = when("1月2日 15:00", now=datetime(2026, 12, 30, 10, 0, tzinfo=TZ))
    assert result.understood == "2027年1月2日（星期六）15:00（未写年份，按2027年理解）"
    assert "未写年份" not in when("12月3日 15:00").understood


def test_today_follows_tz_not_the_zone_of_now() -> None:
    utc_now = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # Friday 04:00 in Shanghai
    assert when("今天 15:00", now=utc_now).start.date() == date(2026, 11, 27)
    assert when("周五 9:00", now=utc_now).start.date() == date(2026, 11, 27)
    assert when("周四 15:00", now=utc_now).start.date() == date(2026, 12, 3)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware") as caught:
        parse_when("12月3日 15:00", now=datetime(2026, 11, 26, 10, 0), tz=TZ)
    assert not isinstance(caught.value, DateTextError)


@pytest.mark.parametrize(
    "text",
    [
        "12月3日 15:00 三楼会议室",
        "明天 下午3点到5点 三楼会议室",
        "周五 晚上7点 三楼会议室",
        "2026-12-03 14:30-16 三楼会议室",
    ],
)
def test_results_are_aware_in_tz_at_plus_eight(text: str) -> None:
    result = when(text)
    for moment in (result.start, result.end):
        if moment is None:
            continue
        assert moment.tzinfo is TZ
        assert moment.utcoffset() == EIGHT_HOURS
        assert moment.isoformat().endswith("+08:00")


def test_utc_instant() -> None:
    result = when("12月3日 15:00")
    assert result.start.astimezone(UTC) == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "rest"),
    [
        ("12月3日 15:00 三楼会议室 学习党章", "三楼会议室 学习党章"),
        ("12月3日15:00三楼会议室", "三楼会议室"),
        ("12月3日下午3点到5点三楼会议室", "三楼会议室"),
        ("明天下午3点党员活动室学习党章", "党员活动室学习党章"),
        ("今晚7点 支部书记讲党课", "支部书记讲党课"),
        ("三楼会议室 12月3日 15:00 学习党章", "三楼会议室 学习党章"),
        ("12月3日 15:00  三楼　会议室   学习党章", "三楼 会议室 学习党章"),
        ("12月3日，15:00，三楼会议室", "三楼会议室"),
        ("12月3日（周四）15:00 三楼", "三楼"),
        ("12月3日(星期四) 15:00 三楼", "三楼"),
        ("明天（11月27日）15:00 三楼", "三楼"),
        ("12月3日 15:00 3号楼 学习", "3号楼 学习"),
        ("12月3日 3点 3号楼", "3号楼"),
        ("12月3日 15:00 301室", "301室"),
        ("12-3 15:00-17:00 3楼", "3楼"),
        ("12月3日 15:00", ""),
        ("１２月３日　１５：００　Ａ座会议室", "Ａ座会议室"),
    ],
)
def test_rest_keeps_the_other_words(text: str, rest: str) -> None:
    assert when(text).rest == rest


@pytest.mark.parametrize(
    "text",
    [
        "１２月３日　１５：００　三楼会议室",
        "１２／３　１５：００　三楼会议室",
        "２０２６－１２－０３　１５：００　三楼会议室",
        "１２月３日１５：００三楼会议室",
        "十二月三日 下午三点 三楼会议室",
    ],
)
def test_full_width_and_chinese_numerals(text: str) -> None:
    result = when(text)
    assert result.start == datetime(2026, 12, 3, 15, 0, tzinfo=TZ)
    assert result.rest == "三楼会议室"


def test_full_width_range() -> None:
    result = when("１２月３日 １５：００～１７：００")
    assert result.end == datetime(2026, 12, 3, 17, 0, tzinfo=TZ)


def test_understood_rendering() -> None:
    assert when("12月3日 15:00-16:30").understood == "2026年12月3日（星期四）15:00—16:30"
    assert when("12月3日 上午9:30").understood == "2026年12月3日（星期四）9:30"


def test_default_minutes() -> None:
    result = when("12月3日 15:00", default_minutes=90)
    assert result.end == datetime(2026, 12, 3, 16, 30, tzinfo=TZ)
    assert result.understood.startswith("2026年12月3日（星期四）15:00—16:30")
    assert "按90分钟计" in result.understood
    explicit = when("12月3日 15:00-16:00", default_minutes=90)
    assert explicit.end == datetime(2026, 12, 3, 16, 0, tzinfo=TZ)
    assert "分钟计" not in explicit.understood
    assert when("12月3日 15:00").end is None
    with pytest.raises(ValueError):
        when("12月3日 15:00", default_minutes=0)


def test_consistent_weekday_next_to_a_date_is_consumed() -> None:
    result = when("周四 12月3日 15:00")
    assert result.start.date() == date(2026, 12, 3)
    assert result.rest == ""


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("12月3日 周五 15:00", "周五"),
        ("12月3日（星期一）15:00", "星期一"),
        ("明天 12月3日 15:00", "12月3日"),
    ],
)
def test_inconsistent_date_words_are_refused(text: str, bad: str) -> None:
    message = error(text)
    assert "日期前后不一致" in message
    assert bad in message
    assert "星期" in message  # the weekday the date really is
    assert "15:00" in message and "例如：" in message


def test_missing_time_names_the_date_and_asks_for_a_time() -> None:
    message = error("12月3日 三楼会议室")
    assert "没有找到开会时间" in message
    assert "2026年12月3日（星期四）" in message
    assert "例如：12月3日 15:00" in message


def test_missing_time_points_out_a_dotted_time() -> None:
    message = error("12月3日 15.30 三楼")
    assert "没有找到开会时间（“15.30”请写成“15:30”）" in message
    assert "2026年12月3日（星期四）" in message


def test_missing_time_after_a_weekday() -> None:
    message = error("下周三 三楼会议室")
    assert "2026年12月2日（星期三）" in message
    assert "例如：下周三 15:00" in message


def test_missing_date_names_the_time_and_asks_for_a_date() -> None:
    message = error("下午3点到5点 三楼会议室")
    assert "没有找到开会日期" in message
    assert "15:00—17:00" in message
    assert "例如：12月3日" in message


@pytest.mark.parametrize("text", ["三楼会议室 学习党章", "", "   "])
def test_missing_both(text: str) -> None:
    message = error(text)
    assert "日期" in message and "时间" in message
    assert "例如：12月3日 15:00 三楼会议室 学习党章" in message


@pytest.mark.parametrize(
    ("text", "bad", "why", "understood"),
    [
        ("2月30日 15:00", "“2月30日”", "2月没有30日", "15:00"),
        ("2027年2月29日 15:00", "“2027年2月29日”", "2027年2月只有28天", "15:00"),
        ("13月1日 15:00", "“13月1日”", "没有13月", "15:00"),
        ("12月32日 15:00", "“12月32日”", "12月没有32日", "15:00"),
        ("2026-13-01 15:00", "“2026-13-01”", "没有13月", "15:00"),
        ("12/0 15:00", "“12/0”", "12月没有0日", "15:00"),
        ("十三月一日 下午3点", "“十三月一日”", "没有13月", "15:00"),
        ("35号 15:00", "“35号”", "没有35日", "15:00"),
        ("12月3日 25:00", "“25:00”", "小时应在0—23之间", "2026年12月3日（星期四）"),
        ("12月3日 24:00", "“24:00”", "小时应在0—23之间", "2026年12月3日（星期四）"),
        ("12月3日 15:61", "“15:61”", "分钟应在0—59之间", "2026年12月3日（星期四）"),
        ("12月3日 二十五点", "“二十五点”", "小时应在0—23之间", "2026年12月3日（星期四）"),
        ("12月3日 上午15点", "“上午15点”", "前后矛盾", "2026年12月3日（星期四）"),
        ("12月3日 下午0点", "“下午0点”", "前后矛盾", "2026年12月3日（星期四）"),
        ("12月3日 晚上2点", "“晚上2点”", "前后矛盾", "2026年12月3日（星期四）"),
    ],
)
def test_invalid_parts_are_named(text: str, bad: str, why: str, understood: str) -> None:
    message = error(text)
    assert bad in message
    assert why in message
    assert f"已识别：{'时间' if understood == '15:00' else '日期'} {understood}" in message
    assert "例如：" in message


def test_invalid_date_without_anything_else_understood() -> None:
    message = error("2月30日")
    assert "“2月30日”不是有效日期" in message
    assert "已识别" not in message
    assert "例如：" in message


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [
        (datetime(2026, 12, 3, 15, 0, tzinfo=TZ), None, "2026年12月3日（星期四）15:00"),
        (
            datetime(2026, 12, 3, 9, 5, tzinfo=TZ),
            datetime(2026, 12, 3, 11, 30, tzinfo=TZ),
            "2026年12月3日（星期四）9:05—11:30",
        ),
        (
            datetime(2026, 12, 3, 20, 0, tzinfo=TZ),
            datetime(2026, 12, 4, 0, 0, tzinfo=TZ),
            "2026年12月3日（星期四）20:00—24:00",
        ),
        (
            datetime(2026, 12, 3, 20, 0, tzinfo=TZ),
            datetime(2026, 12, 4, 1, 0, tzinfo=TZ),
            "2026年12月3日（星期四）20:00—2026年12月4日（星期五）1:00",
        ),
        (
            datetime(2026, 12, 3, 15, 0, tzinfo=TZ),
            datetime(2026, 12, 3, 9, 0, tzinfo=UTC),  # 17:00 in Shanghai
            "2026年12月3日（星期四）15:00—17:00",
        ),
    ],
)
def test_format_when(start: datetime, end: datetime | None, text: str) -> None:
    assert format_when(start, end) == text


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("12月3日", date(2026, 12, 3)),
        ("  12月3号 ", date(2026, 12, 3)),
        ("十二月三日", date(2026, 12, 3)),
        ("１２／３", date(2026, 12, 3)),
        ("2026-12-03", date(2026, 12, 3)),
        ("20261203", date(2026, 12, 3)),
        ("2025年3月1日", date(2025, 3, 1)),
        ("1月5日", date(2027, 1, 5)),
        ("今天", date(2026, 11, 26)),
        ("明天", date(2026, 11, 27)),
        ("大后天", date(2026, 11, 29)),
        ("周四", date(2026, 11, 26)),  # no time: today counts
        ("周五", date(2026, 11, 27)),
        ("星期三", date(2026, 12, 2)),
        ("下周三", date(2026, 12, 2)),
        ("本周一", date(2026, 11, 23)),
        ("12月3日（周四）", date(2026, 12, 3)),
        ("28号", date(2026, 11, 28)),
    ],
)
def test_parse_date(text: str, day: date) -> None:
    assert parse_date(text, now=NOW, tz=TZ) == day


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("", ["没看懂日期", "例如："]),
        ("三楼", ["没看懂日期“三楼”", "例如：12月3日"]),
        ("2月30日", ["“2月30日”", "2月没有30日", "例如："]),
        ("12月3日 15:00", ["还有“15:00”", "已识别：日期 2026年12月3日（星期四）", "例如："]),
        ("12月3日 周五", ["日期前后不一致", "周五", "例如："]),
    ],
)
def test_parse_date_errors(text: str, parts: list[str]) -> None:
    with pytest.raises(DateTextError) as caught:
        parse_date(text, now=NOW, tz=TZ)
    for part in parts:
        assert part in caught.value.message


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2026年1月", (2026, 1)),
        ("2026 年 1 月", (2026, 1)),
        ("2025年12月份", (2025, 12)),
        ("二〇二五年十二月", (2025, 12)),
        ("1月", (2026, 1)),
        ("十二月", (2026, 12)),
        ("１１月", (2026, 11)),
        ("本月", (2026, 11)),
        ("这个月", (2026, 11)),
        ("上月", (2026, 10)),
        ("上个月", (2026, 10)),
        ("下月", (2026, 12)),
        ("2026-01", (2026, 1)),
        ("2026-1", (2026, 1)),
        ("2026/01", (2026, 1)),
        ("202601", (2026, 1)),
        ("去年3月", (2025, 3)),
        ("今年3月", (2026, 3)),
    ],
)
def test_parse_month(text: str, month: tuple[int, int]) -> None:
    assert parse_month(text, now=NOW, tz=TZ) == month


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("2026", (2026, None)),
        ("2025年", (2025, None)),
        ("２０２６ 年", (2026, None)),
        ("二〇二五年", (2025, None)),
        ("今年", (2026, None)),
        ("去年", (2025, None)),
        ("2026-01", (2026, 1)),
        ("202601", (2026, 1)),
        ("2025年12月", (2025, 12)),
        ("上月", (2026, 10)),
    ],
)
def test_parse_period_reads_a_month_or_a_year(text: str, period: tuple[int, int | None]) -> None:
    assert parse_period(text, now=NOW, tz=TZ) == period


@pytest.mark.parametrize("text", ["9999", "0001", "1899年", "2026-13", "十三月", "三楼", ""])
def test_parse_period_errors_name_both_forms(text: str) -> None:
    with pytest.raises(DateTextError) as caught:
        parse_period(text, now=NOW, tz=TZ)
    assert "例如：2026-11" in caught.value.message and "一整年：2026" in caught.value.message


@pytest.mark.parametrize(
    ("now", "text", "month"),
    [
        (datetime(2027, 1, 10, tzinfo=TZ), "上月", (2026, 12)),
        (datetime(2026, 12, 10, tzinfo=TZ), "下个月", (2027, 1)),
        (datetime(2026, 12, 31, 20, 0, tzinfo=UTC), "本月", (2027, 1)),  # Jan 1st in Shanghai
    ],
)
def test_parse_month_across_years(now: datetime, text: str, month: tuple[int, int]) -> None:
    assert parse_month(text, now=now, tz=TZ) == month


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("13月", ["“13月”", "没有13月", "例如：2026年1月"]),
        ("2026-13", ["没有13月", "例如："]),
        ("三楼", ["没看懂月份“三楼”", "例如："]),
        ("", ["没看懂月份", "例如："]),
    ],
)
def test_parse_month_errors(text: str, parts: list[str]) -> None:
    with pytest.raises(DateTextError) as caught:
        parse_month(text, now=NOW, tz=TZ)
    for part in parts:
        assert part in caught.value.message


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("2026年1-3月", [(2026, 1), (2026, 2), (2026, 3)]),
        ("2026年1月-3月", [(2026, 1), (2026, 2), (2026, 3)]),
        ("2026年1月至3月", [(2026, 1), (2026, 2), (2026, 3)]),
        ("2026年1月到2026年3月", [(2026, 1), (2026, 2), (2026, 3)]),
        ("2026年一至三月", [(2026, 1), (2026, 2), (2026, 3)]),
        ("2025年11月-2026年2月", [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]),
        ("２０２５年１１月～２０２６年２月", [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]),
        ("2025-11至2026-02", [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]),
        ("2025-11-2026-02", [(2025, 11), (2025, 12), (2026, 1), (2026, 2)]),
        ("1-3月", [(2026, 1), (2026, 2), (2026, 3)]),
        ("1月—3月", [(2026, 1), (2026, 2), (2026, 3)]),
        ("10-12月", [(2026, 10), (2026, 11), (2026, 12)]),
        ("3-3月", [(2026, 3)]),
        ("2026年5月", [(2026, 5)]),
        ("5月", [(2026, 5)]),
        ("本月", [(2026, 11)]),
        ("上月", [(2026, 10)]),
        ("2026-01", [(2026, 1)]),
    ],
)
def test_parse_month_range(text: str, months: list[tuple[int, int]]) -> None:
    assert parse_month_range(text, now=NOW, tz=TZ) == months


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("2026年3-1月", ["起始月份晚于结束月份", "从2026年3月到2026年1月", "例如：2026年1-3月"]),
        ("3-1月", ["起始月份晚于结束月份", "从2026年3月到2026年1月", "例如："]),
        ("2026年3月-2025年1月", ["起始月份晚于结束月份", "从2026年3月到2025年1月", "例如："]),
        ("1-13月", ["没有13月", "例如："]),
        ("2000年1月-2026年12月", ["范围太大", "例如："]),
        ("三楼", ["没看懂月份", "例如：2026年1-3月"]),
    ],
)
def test_parse_month_range_errors(text: str, parts: list[str]) -> None:
    with pytest.raises(DateTextError) as caught:
        parse_month_range(text, now=NOW, tz=TZ)
    for part in parts:
        assert part in caught.value.message
