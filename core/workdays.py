"""China's working days: the official holidays and 调休 make-up days, with local corrections.

The official schedule comes from the ``holidays`` package (its China calendar: statutory
holidays, the days off moved by the State Council's notice, and the weekend days worked in
exchange). The ``[calendar]`` settings sit on top: ``holidays`` are extra days off (a local
arrangement, or a correction), ``workdays`` extra working days.

A year counts as *published* when the package knows its make-up working days (every notice since
2001 has some) or when the settings list a day of it. For a year not yet published, the package's
statutory holidays still apply, but nothing is moved: the committee admin's digest says so in
December (see handlers.reminders.digest).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

import holidays

from core.config import Settings


@dataclass(frozen=True)
class _Year:
    days_off: frozenset[date]  # weekdays and weekend days that are holidays
    worked_weekend: frozenset[date]  # weekend days that are working days (调休)
    published: bool


@dataclass
class WorkCalendar:
    """Working days under China's schedule, with the configured corrections on top."""

    official: bool = True
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    _years: dict[int, _Year] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is not None:
            return found
        with self._lock:
            if year not in self._years:
                self._years[year] = self._load(year)
            return self._years[year]

    def _load(self, year: int) -> _Year:
        if not self.official:
            return _Year(frozenset(), frozenset(), published=True)
        official = holidays.China(years=year)
        worked = frozenset(d for d in official.weekend_workdays if d.year == year)
        return _Year(frozenset(d for d in official if d.year == year), worked, bool(worked))

    def load(self, *years: int) -> None:
        """Build these years' schedules now (the first one built imports the package's holiday
        tables, ~0.1 s), so that no request pays for it."""
        for year in years:
            self._year(year)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day: Monday–Friday unless a holiday, or a weekend day
        worked in exchange (调休); the configured days win over the official schedule."""
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        year = self._year(day.year)
        if day.weekday() >= 5:
            return day in year.worked_weekend
        return day not in year.days_off

    def workdays(self, first: date, last: date) -> list[date]:
        """The working days from ``first`` to ``last``, both included."""
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [d for d in days if self.is_workday(d)]

    def is_published(self, year: int) -> bool:
        """Whether the year's holiday schedule is known: to the package, or by the settings."""
        if any(d.year == year for d in self.extra_holidays | self.extra_workdays):
            return True
        return self._year(year).published


_CACHE: dict[tuple[bool, tuple[str, ...], tuple[str, ...]], WorkCalendar] = {}


def work_calendar(settings: Settings) -> WorkCalendar:
    """The calendar for these settings (one per distinct ``[calendar]`` section, kept)."""
    section = settings.calendar
    key = (section.official, tuple(section.holidays), tuple(section.workdays))
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE.setdefault(
            key,
            WorkCalendar(
                official=section.official,
                extra_holidays=frozenset(map(date.fromisoformat, section.holidays)),
                extra_workdays=frozenset(map(date.fromisoformat, section.workdays)),
            ),
        )
    return found
