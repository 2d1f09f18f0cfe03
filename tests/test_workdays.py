"""China's working days (holidays and 调休), the configured corrections, and study streaks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.config import ConfigError, load
from core.workdays import WorkCalendar, work_calendar
from handlers.study import member_week, record_study
from models.study import StudyCheckin
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")

# 2026 by the State Council's notice: holidays on weekdays, and weekend days worked (调休).
HOLIDAYS_2026 = ["2026-01-01", "2026-02-16", "2026-05-01", "2026-10-01", "2026-10-05"]
WORKED_WEEKENDS_2026 = [
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
]


@pytest.mark.parametrize("day", HOLIDAYS_2026)
def test_public_holidays_on_weekdays_are_days_off(day):
    assert date.fromisoformat(day).weekday() < 5
    assert not WorkCalendar().is_workday(date.fromisoformat(day))


@pytest.mark.parametrize("day", WORKED_WEEKENDS_2026)
def test_weekend_days_worked_in_exchange_are_working_days(day):
    assert date.fromisoformat(day).weekday() >= 5
    assert WorkCalendar().is_workday(date.fromisoformat(day))


def test_ordinary_weeks_are_monday_to_friday():
    week = WorkCalendar().workdays(date(2026, 11, 16), date(2026, 11, 22))
    assert week == [date(2026, 11, 16) + timedelta(days=n) for n in range(5)]


def test_national_day_week_2026():
    days = WorkCalendar().workdays(date(2026, 9, 28), date(2026, 10, 11))
    assert [d.isoformat() for d in days] == [
        "2026-09-28",
        "2026-09-29",
        "2026-09-30",
        "2026-10-08",
        "2026-10-09",
        "2026-10-10",
    ]


def test_configured_days_correct_the_official_schedule(settings):
    settings.calendar.holidays = ["2026-11-26"]  # a local day off on a Thursday
    settings.calendar.workdays = ["2026-10-05", "2026-11-28"]  # worked: a holiday, a Saturday
    calendar = work_calendar(settings)
    assert not calendar.is_workday(date(2026, 11, 26))
    assert calendar.is_workday(date(2026, 10, 5)) and calendar.is_workday(date(2026, 11, 28))
    assert calendar.is_workday(date(2026, 11, 27))  # the rest stays official


def test_without_the_official_schedule_working_days_are_weekdays(settings):
    settings.calendar.official = False
    calendar = work_calendar(settings)
    assert calendar.is_workday(date(2026, 10, 1)) and not calendar.is_workday(date(2026, 10, 10))


def test_a_year_is_published_when_the_package_or_the_settings_know_it(settings):
    calendar = work_calendar(settings)
    assert calendar.is_published(2026)
    assert not calendar.is_published(2099)
    settings.calendar.workdays = ["2099-02-07"]
    assert work_calendar(settings).is_published(2099)


def test_a_day_listed_as_both_off_and_worked_is_refused(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[calendar]\nholidays = ["2027-01-04"]\nworkdays = ["2027-01-04"]\n')
    with pytest.raises(ConfigError) as err:
        load(environ={"ZHIBU_CONFIG": str(config)})
    assert "calendar.workdays" in str(err.value) and "2027-01-04" in str(err.value)


def test_a_date_that_is_not_iso_is_refused_naming_the_key(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[calendar]\nholidays = ["2027/1/4"]\n')
    with pytest.raises(ConfigError) as err:
        load(environ={"ZHIBU_CONFIG": str(config)})
    assert "calendar.holidays" in str(err.value)


# ---- streaks count study days ----------------------------------------------------------------


def _check_in(member, *days: date) -> None:
    for day in days:
        record_study(
            member, "", now=datetime(*day.timetuple()[:3], 20, tzinfo=SH), tz=SH, max_chars=500
        )


def _streak(member, day: date, settings) -> int:
    now = datetime(*day.timetuple()[:3], 21, tzinfo=SH)
    return member_week(member, now=now, tz=SH, calendar=work_calendar(settings)).streak


def test_a_weekend_does_not_break_a_streak(conn, settings):
    member = f.member("周末党员", f.branch("第一党支部"))
    _check_in(member, date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23))  # Thu Fri Mon
    assert _streak(member, date(2026, 11, 23), settings) == 3
    # Sunday evening, before Monday's check-in: Thursday and Friday still count.
    StudyCheckin.delete().where(StudyCheckin.day == date(2026, 11, 23)).execute()
    assert _streak(member, date(2026, 11, 22), settings) == 2


def test_a_missed_working_day_breaks_a_streak(conn, settings):
    member = f.member("党员", f.branch("第一党支部"))
    _check_in(member, date(2026, 11, 17), date(2026, 11, 19))  # Tue, Thu: Wednesday missed
    assert _streak(member, date(2026, 11, 19), settings) == 1


def test_the_national_day_holiday_does_not_break_a_streak_and_a_worked_saturday_counts(
    conn, settings
):
    member = f.member("党员", f.branch("第一党支部"))
    _check_in(member, date(2026, 9, 30), date(2026, 10, 8), date(2026, 10, 9))
    assert _streak(member, date(2026, 10, 9), settings) == 3
    # 10 October 2026 is a working Saturday: missing it breaks the streak on Monday.
    _check_in(member, date(2026, 10, 12))
    assert _streak(member, date(2026, 10, 12), settings) == 1


def test_a_check_in_on_a_day_off_counts_and_a_planned_weekend_day_is_a_study_day(conn, settings):
    branch = f.branch("第一党支部")
    member = f.member("党员", branch)
    _check_in(member, date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 23))  # Fri Sat Mon
    assert _streak(member, date(2026, 11, 23), settings) == 3
    f.topic(date(2026, 11, 22), "周日专题学习", branch=branch)  # Sunday is now a study day
    assert _streak(member, date(2026, 11, 23), settings) == 1


def test_the_app_builds_the_years_a_streak_reads_before_any_request(db_url, monkeypatch):
    """On a worker's first check-in, building a year imports the holiday tables (~0.1 s) while
    the write lock is held; the app builds last, this and next year when it starts."""
    import core.workdays
    from app import create_app

    monkeypatch.setattr(core.workdays, "_CACHE", {})
    app = create_app({"database": {"url": db_url}})

    def built_late(self: WorkCalendar, year: int) -> None:
        raise AssertionError(f"{year} built after start-up")

    monkeypatch.setattr(WorkCalendar, "_load", built_late)
    calendar = work_calendar(app.config["ZHIBU"])
    year = datetime.now(SH).year
    for day in (date(year - 1, 1, 5), date(year, 8, 19), date(year + 1, 12, 31)):
        calendar.is_workday(day)
