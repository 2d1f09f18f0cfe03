"""Today's topic kept per branch for study.topic_cache_seconds: what shows when, and what a
check-in records when the kept topic changed behind the process's back."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

import handlers.study.topics as topics
from handlers.study import record_study, study_day, today_topic
from handlers.study.editing import add_topic, remove_topic
from models.prepared import day_reader
from models.study import StudyCheckin, StudyTopic
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 8, 19, 9, 30, tzinfo=SH)
DAY = NOW.date()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    ticking = Clock()
    monkeypatch.setattr(topics, "monotonic", ticking)
    return ticking


@pytest.fixture
def org(conn):
    branch = f.branch()
    secretary = f.member("书记", branch, roles="secretary")
    return {"branch": branch, "sec": secretary, "m": f.member("张三", branch)}


def _behind_the_back(title: str) -> StudyTopic:
    """A topic written by another process: this one is not told."""
    return StudyTopic.create(day=DAY, title=title, branch=f.branch().id)


def test_a_topic_written_elsewhere_shows_once_the_kept_one_is_old_enough(org, clock):
    assert today_topic(org["m"], DAY, max_age=60) is None
    _behind_the_back("别处添加")
    clock.now += 59
    assert today_topic(org["m"], DAY, max_age=60) is None  # kept
    assert today_topic(org["m"], DAY, max_age=0).title == "别处添加"  # 0: always read
    clock.now += 1
    assert today_topic(org["m"], DAY, max_age=60).title == "别处添加"


def test_a_topic_added_through_this_process_shows_at_once(org, clock, settings):
    assert today_topic(org["m"], DAY, max_age=60) is None
    added = add_topic(
        org["sec"], None, day=DAY, title="本支部主题", category="其他", settings=settings, now=NOW
    )
    assert today_topic(org["m"], DAY, max_age=60).id == added.id
    remove_topic(org["sec"], added.id, now=NOW)
    assert today_topic(org["m"], DAY, max_age=60) is None
    assert study_day(org["m"], now=NOW, tz=SH, topic_max_age=60).topic is None


def test_a_kept_topic_deleted_elsewhere_is_recorded_as_a_deleted_topic_is(org, clock):
    kept = f.topic(DAY, "将被删除", branch=org["branch"])
    assert today_topic(org["m"], DAY, max_age=60).id == kept.id
    StudyTopic.delete().where(StudyTopic.id == kept.id).execute()  # another process
    done = record_study(org["m"], "学了", now=NOW, tz=SH, max_chars=500, topic_max_age=60)
    assert done.created and done.topic.title == "将被删除"  # as just before the deletion
    (row,) = StudyCheckin.select()
    assert (row.topic_id, row.topic_key) == (None, kept.id)
    assert done.checkin.topic_id is None
    again = record_study(org["m"], "再学", now=NOW, tz=SH, max_chars=500, topic_max_age=60)
    assert not again.created and StudyCheckin.select().count() == 1


def test_a_topic_read_while_topics_change_is_not_kept(org, clock, monkeypatch):
    f.topic(DAY, "旧的", branch=org["branch"])
    reads = []
    real = topics.fetchone

    def changing(*args, **kwargs):
        row = real(*args, **kwargs)
        reads.append(row)
        if len(reads) == 1:
            topics.forget_topics()  # a change committed while this read was under way
        return row

    monkeypatch.setattr(topics, "fetchone", changing)
    today_topic(org["m"], DAY, max_age=60)
    today_topic(org["m"], DAY, max_age=60)
    today_topic(org["m"], DAY, max_age=60)
    assert len(reads) == 2  # the first read was not kept; the second was


def test_each_branch_and_day_is_kept_apart(org, clock):
    other = f.member("李四", f.branch("第二党支部"))
    f.topic(DAY, "一支部", branch=org["branch"])
    assert today_topic(org["m"], DAY, max_age=60).title == "一支部"
    assert today_topic(other, DAY, max_age=60) is None
    f.topic(DAY.replace(day=20), "明天", branch=org["branch"])
    assert today_topic(org["m"], DAY.replace(day=20), max_age=60).title == "明天"


def test_the_branch_topic_days_are_kept_and_forgotten_with_the_topics(org, clock):
    first, last = DAY.replace(day=1), DAY
    f.topic(DAY.replace(day=3), "三日", branch=org["branch"])
    assert topics.topic_days(org["branch"], first, last, max_age=60) == {DAY.replace(day=3)}
    StudyTopic.create(day=DAY.replace(day=4), title="别处", branch=org["branch"].id)
    assert topics.topic_days(org["branch"], first, last, max_age=60) == {DAY.replace(day=3)}
    assert len(topics.topic_days(org["branch"], first, last)) == 2  # no max_age: read
    topics.forget_topics()
    assert len(topics.topic_days(org["branch"], first, last, max_age=60)) == 2


@pytest.mark.parametrize(
    "value",
    [
        "2026-08-19",
        "2026-8-19",
        "2026-W33-3",
        "20260819",
        "2026-08-19 10:00:00",
        "",
        None,
        date(2026, 8, 19),
        datetime(2026, 8, 19, 10, 0),
    ],
)
def test_days_read_fast_as_peewee_reads_them(value):
    read = day_reader(StudyCheckin.day)
    assert read(value) == StudyCheckin.day.python_value(value)
    assert type(read(value)) is type(StudyCheckin.day.python_value(value))
