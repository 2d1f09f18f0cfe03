"""学时 and the branches' make-up in process: counted meetings (kinds and the cap are settings),
recorded training for one or several members and its refusals, a member's own year (我的), the
branch's managers' list, the committee's per-branch figures in constant queries, the age bands
and this year's admissions.

The clock is pinned to 1 December 2026, 10:00 in Shanghai.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import training as t
from handlers.errors import DomainError, Forbidden, Invalid
from handlers.overview import committee_branches
from handlers.profile import member_summary, year_figures
from handlers.roster.makeup import band_labels, committee_makeup
from models.audit import AuditEntry
from models.training import TrainingRecord
from tests import factories as f
from tests.support.meetings import meet
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SH)


def at(month: int, day: int, hour: int = 15) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SH)


@pytest.fixture
def org(conn: Any) -> dict[str, Any]:
    committee = f.committee("测试党委")
    a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
    people = {
        "a": a,
        "b": b,
        "sec": f.member("王书记", a, roles="secretary"),
        "m1": f.member("张党员", a),
        "m2": f.member("刘党员", a, status="probationary"),
        "act": f.member("积极分子", a, status="activist"),  # not a party member: not counted
        "secb": f.member("赵书记", b, roles="secretary"),
        "admin": f.member("钱管理员", b, roles="committee_admin"),
    }
    a_members = [people[k] for k in ("sec", "m1", "m2")]
    # A lesson of 3 hours (all present), a theme day of 90 minutes (the secretary and 张党员),
    # a committee meeting (a kind that does not count), a cancelled lesson and last year's.
    meet(a, "lesson", at(3, 10), 180, present=a_members)
    meet(a, "theme_day", at(6, 1), 90, present=a_members[:2], absent=a_members[2:])
    meet(a, "committee", at(6, 2), 120, present=a_members)
    meet(a, "lesson", at(7, 1), 120, status="cancelled", present=a_members)
    meet(a, "lesson", datetime(2025, 12, 20, 15, tzinfo=SH), 120, present=a_members)
    # A full-day course (8 hours) on a theme day: capped at 4 hours.
    meet(a, "theme_day", at(9, 5, 9), 480, present=[people["m1"]])
    return people


def add(org: dict[str, Any], settings: Any, who: str = "sec", **fields: Any) -> list[Any]:
    values = {
        "member_ids": [org["m1"].id],
        "title": "县委党校专题培训班",
        "day": date(2026, 10, 15),
        "minutes": 1800,
        **fields,
    }
    branch_id = values.pop("branch_id", None)
    branch_id = org[branch_id].id if isinstance(branch_id, str) else branch_id
    return t.add_training(org[who], branch_id, now=NOW, settings=settings, **values)


def refusal(expected: type[DomainError], fn: Any, /, *args: Any, **kw: Any) -> DomainError:
    with pytest.raises(expected) as caught:
        fn(*args, **kw)
    return caught.value


def test_counted_meetings_and_the_cap(org, settings):
    hours = {k: t.year_hours(org[k], now=NOW, settings=settings) for k in ("sec", "m1", "m2")}
    assert hours["sec"].meeting_minutes == 180 + 90
    assert hours["m1"].meeting_minutes == 180 + 90 + 240  # the 8-hour day counts 4 hours
    assert hours["m2"].meeting_minutes == 180
    assert all(h.below and h.other_minutes == 0 and h.year == 2026 for h in hours.values())
    settings.training.meeting_kinds = ["lesson", "theme_day", "committee"]
    settings.training.max_minutes_per_meeting = 600
    assert (
        t.year_hours(org["m1"], now=NOW, settings=settings).meeting_minutes == 180 + 90 + 120 + 480
    )


def test_recorded_training_for_several_members_counts_and_is_audited(org, settings):
    rows = add(org, settings, member_ids=[org["m1"].id, org["m2"].id, org["m1"].id])
    assert [(r.member_name, r.record.minutes) for r in rows] == [
        ("张党员", 1800),
        ("刘党员", 1800),
    ]
    (audit,) = AuditEntry.select()
    assert audit.action == "training.add"
    assert (
        audit.summary == "登记培训学时：县委党校专题培训班 2026年10月15日 30小时，张党员、刘党员"
    )
    m1 = t.year_hours(org["m1"], now=NOW, settings=settings)
    assert (m1.minutes, m1.hours, m1.below) == (510 + 1800, 38.5, False)
    mine = t.my_training(org["m1"], now=NOW, settings=settings)
    assert [(c.day, c.kind_label, c.minutes) for c in mine.items] == [
        (date(2026, 10, 15), "培训", 1800),
        (date(2026, 9, 5), "主题党日", 240),
        (date(2026, 6, 1), "主题党日", 90),
        (date(2026, 3, 10), "党课", 180),
    ]
    assert mine.hours == m1


def test_training_refusals(org, settings):
    cases = [
        (Forbidden, {"who": "m1"}, "没有权限"),
        (Forbidden, {"who": "secb", "branch_id": "a"}, "没有权限"),
        (DomainError, {"member_ids": [org["secb"].id]}, "第一党支部没有编号为"),
        (Invalid, {"minutes": 0}, "培训学时应大于 0"),
        (Invalid, {"minutes": 101 * 60}, "一条培训记录最多 100 学时"),
        (Invalid, {"title": " "}, "请写明培训名称"),
        (Invalid, {"title": "训" * 101}, "培训名称最多 100 字"),
        (Invalid, {"day": date(2026, 12, 2)}, "2026年12月2日还没有到"),
    ]
    for kind, fields, words in cases:
        caught = refusal(kind, add, org, settings, **fields)
        assert words in caught.message, (fields, caught.message)
    assert TrainingRecord.select().count() == 0 and AuditEntry.select().count() == 0


def test_the_branch_managers_see_each_member_the_member_only_themselves(org, settings):
    add(org, settings)
    page = t.branch_training(org["sec"], None, now=NOW, settings=settings, limit=20, offset=0)
    assert [(i.name, i.hours.minutes) for i in page.items] == [
        ("王书记", 270),
        ("张党员", 2310),
        ("刘党员", 180),
    ]  # the activist is not a party member
    assert (page.together.members, page.together.below, page.required_hours) == (3, 2, 32)
    refusal(
        Forbidden,
        t.branch_training,
        org["m1"],
        None,
        now=NOW,
        settings=settings,
        limit=20,
        offset=0,
    )
    via = t.branch_training(
        org["admin"], org["a"].id, now=NOW, settings=settings, limit=1, offset=1
    )
    assert [i.name for i in via.items] == ["张党员"] and via.total == 3


def test_my_profile_shows_my_year(org, settings):
    summary = member_summary(org["m2"], now=NOW, settings=settings)
    assert summary.training is not None and summary.training.minutes == 180
    assert year_figures(org["act"], now=NOW, settings=settings).training is None


def test_the_committee_sees_branches_never_people_in_constant_queries(org, settings, monkeypatch):
    add(org, settings)
    org["sec"].birth_date = date(1990, 12, 1)  # 36 on 1 December 2026
    org["m1"].birth_date = date(1991, 12, 2)  # 34, a day short of 35
    org["m1"].joined_on = date(2026, 5, 1)  # admitted this year
    org["m2"].joined_on = date(2025, 12, 31)
    for who in ("sec", "m1", "m2"):
        org[who].save()

    def count() -> tuple[int, Any]:
        with counting_queries(monkeypatch) as seen:
            page = committee_branches(org["admin"], NOW, settings, limit=100, offset=0)
        return len(seen), page

    few, page = count()
    people = page.people[org["a"].id]
    assert (people.training.members, people.training.below) == (3, 2)
    assert people.training.average_hours == round(2760 / 60 / 3, 1) == 15.3
    assert people.training.below_share == pytest.approx(2 / 3)
    assert people.makeup.bands == (1, 1, 0, 0, 0) and people.makeup.unknown == 1
    assert people.makeup.admitted == 1
    empty = page.people[org["b"].id]  # the secretary and the admin: no hours, no birth dates
    assert (empty.training.members, empty.training.below, empty.makeup.unknown) == (2, 2, 2)
    assert page.band_labels == ["35岁以下", "35—45岁", "46—55岁", "56—60岁", "61岁及以上"]
    for n in range(3):
        br = f.branch(f"支部{n}", org["a"].committee)
        meet(br, "lesson", at(3, 10), 120, present=[f.member(br=br)])
    more, _ = count()
    assert more == few


def test_age_bands_are_a_setting(org, settings):
    settings.roster.age_bands = [40]
    assert band_labels(settings) == ["40岁以下", "40岁及以上"]
    org["sec"].birth_date = NOW.date() - timedelta(days=365 * 50)
    org["sec"].save()
    found = committee_makeup(org["a"].committee_id, NOW.date(), settings)
    assert found[org["a"].id].bands == (0, 1) and found[org["a"].id].unknown == 2


def test_the_settings_name_real_meeting_kinds_and_rising_bands():
    from core import config
    from models.meetings import KINDS

    assert set(config.MEETING_KINDS) == set(KINDS)
    with pytest.raises(config.ConfigError, match="training.meeting_kinds: unknown meeting kind"):
        config.load(overrides={"training": {"meeting_kinds": ["lesson", "study"]}}, environ={})
    with pytest.raises(config.ConfigError, match="roster.age_bands: expected rising ages"):
        config.load(overrides={"roster": {"age_bands": [46, 35]}}, environ={})
    loaded = config.load(environ={"ZHIBU_TRAINING__MEETING_KINDS": "lesson,group"})
    assert loaded.training.meeting_kinds == ["lesson", "group"]
