"""A branch's study plan edited topic by topic (the mini-program's 学习计划 page).

Branch managers (models.org.BRANCH_MANAGERS and the 宣传委员, who runs study) read their
branch's month and add, change and remove the branch's own topics; a committee admin does so
for every branch of the committee (handlers.branches.branch_acted_for). A topic the committee
or everyone was given stays as it is: the branch adds its own topic for that day, which the
members then get instead (handlers.study.topics).

A topic of a branch the caller may not see is "not found", like an id that does not exist; one
they see but may not change is "forbidden".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.clock import utcnow
from core.config import Settings
from core.workdays import WorkCalendar
from handlers.audit import changed, record
from handlers.branches import branch_acted_for
from handlers.errors import Conflict, Forbidden, Invalid, NotFound
from handlers.study.plans import PlanScope, category_code, topic_problems
from handlers.study.topics import forget_topics
from handlers.study.views import MonthPlan, month_plan
from models.base import write_tx
from models.org import BRANCH_MANAGERS, Branch, Member, acts_for
from models.study import StudyTopic

log = logging.getLogger(__name__)

STUDY_MANAGERS = (*BRANCH_MANAGERS, "propaganda")

HIDDEN = "没有找到这个学习主题：它可能已被删除，或您无权查看。"
NOT_ALLOWED = "没有权限修改学习计划，请联系支部书记或宣传委员。"
FROM_COMMITTEE = "这是党委统一安排的学习主题，支部不能修改；可以为本支部添加当天的主题来替换它。"
FROM_EVERYONE = (
    "这是面向全体支部统一安排的学习主题，支部不能修改；可以为本支部添加当天的主题来替换它。"
)


@dataclass(frozen=True)
class BranchMonth:
    """A month of the branch's plan as its managers see it."""

    branch: Branch
    plan: MonthPlan

    def editable(self, topic: StudyTopic) -> bool:
        """Only the branch's own topics are changed here; inherited ones are replaced."""
        return topic.branch_id == self.branch.id


def branch_month_plan(
    actor: Member, branch_id: int | None, year: int, month: int, *, calendar: WorkCalendar
) -> BranchMonth:
    """Every day of the month for the branch: working day or not, and the topic it gets."""
    branch = branch_acted_for(actor, branch_id, STUDY_MANAGERS)
    scope = PlanScope(None, branch.id, branch.name)
    return BranchMonth(branch, month_plan(scope, year, month, calendar))


# ---- checking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fields:
    day: date
    title: str
    category: str  # as given: a label, a near form or a code
    summary: str
    url: str


def _cleaned(fields: _Fields) -> _Fields:
    summary = fields.summary.replace("\r\n", "\n").replace("\r", "\n").strip()
    return _Fields(fields.day, fields.title.strip(), fields.category, summary, fields.url.strip())


def _checked(fields: _Fields, settings: Settings) -> _Fields:
    """The fields cleaned, with the category as its code; Invalid lists every problem."""
    fields = _cleaned(fields)
    problems = topic_problems(
        day=fields.day,
        title=fields.title,
        category=fields.category,
        summary=fields.summary,
        url=fields.url,
        settings=settings,
    )
    if problems:
        raise Invalid("学习主题有误：" + "；".join(problems) + "。请改正后重新提交。")
    code = category_code(fields.category)
    assert code is not None  # topic_problems refuses an unknown category
    return _Fields(fields.day, fields.title, code, fields.summary, fields.url)


def _check_day_free(branch_id: int, day: date, *, other_than: int | None = None) -> None:
    query = StudyTopic.select().where(StudyTopic.branch == branch_id, StudyTopic.day == day)
    if other_than is not None:
        query = query.where(StudyTopic.id != other_than)
    taken = query.order_by(StudyTopic.id.desc()).first()
    if taken is not None:
        raise Conflict(
            f"{day.isoformat()} 已有本支部的学习主题“{taken.title}”，请修改它，或另选一天。",
            errcode="day_taken",
        )


def _sees(actor: Member, topic: StudyTopic) -> bool:
    """Whether the actor may know of the topic: their own branch's, one of a branch they act
    for, their committee's, or everyone's."""
    if topic.branch_id is not None:
        return topic.branch_id == actor.branch_id or acts_for(actor, topic.branch, STUDY_MANAGERS)
    if topic.committee_id is not None:
        return topic.committee_id == actor.branch.committee_id
    return True


def _managed_topic(actor: Member, topic_id: int) -> StudyTopic:
    """The branch topic the actor may change, or the refusal."""
    topic = StudyTopic.get_or_none(StudyTopic.id == topic_id)
    if topic is None or not _sees(actor, topic):
        raise NotFound(HIDDEN)
    if topic.branch_id is None:
        if not acts_for(actor, actor.branch, STUDY_MANAGERS):
            raise Forbidden(NOT_ALLOWED)
        raise Forbidden(FROM_COMMITTEE if topic.committee_id is not None else FROM_EVERYONE)
    if not acts_for(actor, topic.branch, STUDY_MANAGERS):
        raise Forbidden(NOT_ALLOWED)
    return topic


# ---- writing ---------------------------------------------------------------------------------


def _topic_fields(topic: StudyTopic) -> dict[str, Any]:
    return {
        "day": topic.day,
        "title": topic.title,
        "category": topic.category,
        "summary": topic.content,
        "url": topic.url,
    }


def _record_topic(
    actor: Member,
    action: str,
    verb: str,
    topic: StudyTopic,
    now: datetime | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a change of one of the branch's own topics."""
    record(
        actor,
        action,
        summary=f"{verb}：{topic.day:%Y-%m-%d}《{topic.title}》",
        target=f"study_topic:{topic.id}",
        branch_id=topic.branch_id,
        before=before,
        after=after,
        now=now or utcnow(),
    )


def add_topic(
    actor: Member,
    branch_id: int | None,
    *,
    day: date,
    title: str,
    category: str,
    summary: str = "",
    url: str = "",
    settings: Settings,
    now: datetime,
) -> StudyTopic:
    """Give the branch its own topic for ``day`` (over any committee's or everyone's)."""
    branch = branch_acted_for(actor, branch_id, STUDY_MANAGERS)
    fields = _checked(_Fields(day, title, category, summary, url), settings)
    with write_tx():
        _check_day_free(branch.id, fields.day)
        topic = StudyTopic.create(
            day=fields.day,
            title=fields.title,
            category=fields.category,
            content=fields.summary,
            url=fields.url,
            committee=None,
            branch=branch.id,
            created_at=now,
        )
        _record_topic(
            actor, "study.topic_add", "添加学习主题", topic, now, after=_topic_fields(topic)
        )
    forget_topics()
    log.info("study topic %s added for branch %s on %s", topic.id, branch.id, fields.day)
    return topic


def change_topic(
    actor: Member,
    topic_id: int,
    *,
    day: date | None = None,
    title: str | None = None,
    category: str | None = None,
    summary: str | None = None,
    url: str | None = None,
    settings: Settings,
    now: datetime | None = None,
) -> StudyTopic:
    """Change some fields of one of the branch's own topics (a field left None stays)."""
    with write_tx():
        topic = _managed_topic(actor, topic_id)
        before = _topic_fields(topic)
        given = _Fields(
            topic.day if day is None else day,
            topic.title if title is None else title,
            topic.category if category is None else category,
            topic.content if summary is None else summary,
            topic.url if url is None else url,
        )
        fields = _checked(given, settings)
        if fields.day != topic.day:
            _check_day_free(topic.branch_id, fields.day, other_than=topic.id)
        topic.day, topic.title, topic.category = fields.day, fields.title, fields.category
        topic.content, topic.url = fields.summary, fields.url
        topic.save()
        old, new = changed(before, _topic_fields(topic))
        _record_topic(actor, "study.topic_change", "修改学习主题", topic, now, old, new)
    forget_topics()
    log.info("study topic %s changed", topic.id)
    return topic


def remove_topic(actor: Member, topic_id: int, *, now: datetime | None = None) -> StudyTopic:
    """Delete one of the branch's own topics; check-ins made on it stay (without a topic)."""
    with write_tx():
        topic = _managed_topic(actor, topic_id)
        StudyTopic.delete().where(StudyTopic.id == topic.id).execute()
        _record_topic(
            actor, "study.topic_remove", "删除学习主题", topic, now, _topic_fields(topic)
        )
    forget_topics()
    log.info("study topic %s removed from branch %s", topic.id, topic.branch_id)
    return topic


def topic_to_change(actor: Member, topic_id: int) -> StudyTopic:
    """One of the branch's own topics, for a form that changes it (or the refusal)."""
    return _managed_topic(actor, topic_id)
