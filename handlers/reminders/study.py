"""Study reminders: today's topic to each group, the evening nudge, the week's participation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import Expression, fn

from core.clock import local_day
from core.config import Settings
from core.text import book_title
from handlers.outbox import Outgoing
from handlers.reminders.common import channelled_branches, is_workday, local_zone
from models.org import PARTY_MEMBER_STATUSES, Member
from models.study import TOPIC_CATEGORIES, StudyCheckin, StudyTopic


def study_prompts(now: datetime, settings: Settings) -> list[Outgoing]:
    """Today's topic to each branch group (workdays only; make-up workdays too)."""
    day = local_day(now, local_zone(settings))
    if not is_workday(day, settings):
        return []
    branches = channelled_branches()
    topics = list(StudyTopic.select().where(StudyTopic.day == day).order_by(StudyTopic.id.desc()))
    # The branch's own topic, else its committee's, else everyone's; the newest of each kind.
    own: dict[int, StudyTopic] = {}
    committees: dict[int, StudyTopic] = {}
    everyone = None
    for t in topics:
        if t.branch_id:
            own.setdefault(t.branch_id, t)
        elif t.committee_id:
            committees.setdefault(t.committee_id, t)
        elif everyone is None:
            everyone = t
    rows = []
    for branch in branches:
        topic = own.get(branch.id) or committees.get(branch.committee_id) or everyone
        if topic is None:
            continue
        text = "【今日学习】" + topic_material(topic, settings)
        rows.append(
            Outgoing(
                "study_prompt",
                "branch",
                branch.id,
                day.isoformat(),
                {"text": text, "title": "今日学习"},
                branch.id,
            )
        )
    return rows


def topic_material(topic: StudyTopic, settings: Settings, *, in_chat: bool = False) -> str:
    """A topic as members read it: title and category, summary, link, and how to check in."""
    category = TOPIC_CATEGORIES.get(topic.category, TOPIC_CATEGORIES["other"])
    lines = [f"{book_title(topic.title)}（{category}）"]
    if topic.content:
        lines.append(topic.content)
    if topic.url:
        lines.append(f"原文：{topic.url}")
    lines.append(how_to_check_in(settings, in_chat=in_chat))
    return "\n".join(lines)


def how_to_check_in(settings: Settings, *, in_chat: bool = False) -> str:
    """The line telling members how to check in: the bot command (in the Official Account's
    chat, or ``in_chat`` already), and the mini-program page when one is configured."""
    line = "学习后回复「学习 心得」打卡" if in_chat else "学习后在公众号回复「学习 心得」打卡"
    page = settings.study.miniprogram_page
    return line + (f"，或在小程序「{page}」页面打卡。" if page else "。")


def study_nudges(now: datetime, settings: Settings) -> list[Outgoing]:
    """An evening nudge to members who have not checked in today, where the branch wants it."""
    day = local_day(now, local_zone(settings))
    if not is_workday(day, settings):
        return []
    branches = channelled_branches("nudge_enabled")
    if not branches:
        return []
    done = StudyCheckin.select(StudyCheckin.member).where(StudyCheckin.day == day)
    members = (
        Member.select(Member.id, Member.name, Member.branch)
        .where(
            Member.branch.in_([b.id for b in branches]),
            Member.status.in_(PARTY_MEMBER_STATUSES),
            Member.id.not_in(done),
        )
        .order_by(Member.id)
        .tuples()
    )
    return [
        Outgoing(
            "study_nudge",
            "member",
            member_id,
            day.isoformat(),
            {
                "text": f"{name}同志，今天的学习还没有打卡。学习后发送“学习 心得”即可。",
                "title": "学习提醒",
            },
            branch_id,
        )
        for member_id, name, branch_id in members
    ]


@dataclass(frozen=True)
class StudyRate:
    """How many of a branch's party members checked in over some days: a rate, not a ranking."""

    members: int
    participants: int
    checkins: int

    @property
    def rate(self) -> float | None:
        """Participants / members; None for a branch without party members."""
        return self.participants / self.members if self.members else None


def study_participation(first: date, last: date, branches: Expression) -> dict[int, StudyRate]:
    """Party members and those who checked in from first to last (inclusive), per branch.

    ``branches`` is a condition on ``Member.branch`` (``Member.branch.in_(ids)``, ...); branches
    without party members are absent. 2 queries, whatever the number of branches.
    """
    party = Member.status.in_(PARTY_MEMBER_STATUSES)
    members: dict[int, int] = dict(
        Member.select(Member.branch, fn.COUNT(Member.id))
        .where(branches, party)
        .group_by(Member.branch)
        .tuples()
    )
    studied: dict[int, tuple[int, int]] = {}
    for branch_id, people, checkins in (
        StudyCheckin.select(
            Member.branch, fn.COUNT(fn.DISTINCT(StudyCheckin.member)), fn.COUNT(StudyCheckin.id)
        )
        .join(Member)
        .where(branches, party, StudyCheckin.day.between(first, last))
        .group_by(Member.branch)
        .tuples()
    ):
        studied[branch_id] = (people, checkins)
    return {
        branch_id: StudyRate(total, *studied.get(branch_id, (0, 0)))
        for branch_id, total in members.items()
    }


def study_summaries(now: datetime, settings: Settings) -> list[Outgoing]:
    """The week's study rate per branch: how many took part, never who ranks where."""
    today = local_day(now, local_zone(settings))
    start = today - timedelta(days=today.weekday())
    branches = channelled_branches()
    ids = [b.id for b in branches]
    if not ids:
        return []
    rates = study_participation(start, today, Member.branch.in_(ids))
    rows = []
    for branch in branches:
        rate = rates.get(branch.id)
        if rate is None:
            continue
        text = (
            f"【本周学习小结】{branch.name}{start.month}月{start.day}日至{today.month}月"
            f"{today.day}日：{rate.members} 名党员中 {rate.participants} 人参加学习打卡，参与率 "
            f"{rate.participants / rate.members:.0%}，共打卡 {rate.checkins} 次。"
        )
        rows.append(
            Outgoing(
                "study_summary",
                "branch",
                branch.id,
                start.isoformat(),
                {"text": text, "title": "每周学习小结"},
                branch.id,
            )
        )
    return rows
