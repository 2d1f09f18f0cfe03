"""The demo's data: a committee, two branches, a dozen members (with birth dates), topics, a
meeting, dues, rectification items, committee terms, lost-contact cases, volunteer service (one
entry waiting), a training, three people in development, a transfer between the branches and a
member who left.

``seed`` is idempotent: a second run adds nothing that is already there. `flask --app app
demo` calls it, and so does the callback benchmark.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from core.clock import local_now, utcnow
from core.config import Settings
from handlers.binding import issue_codes
from models.base import db, write_tx
from models.dues import DuesAssessment
from models.org import Branch, Committee, Member, PartyGroup
from models.study import StudyTopic
from models.wechat import WechatBinding

log = logging.getLogger(__name__)

COMMITTEE = "示范街道党工委"
# (branch, group, name, phone, status, roles, joined)
MEMBERS: list[tuple[str, str, str, str, str, str, str]] = [
    ("第一党支部", "第一党小组", "张建国", "13800000001", "full", "secretary", "2001-07-01"),
    ("第一党支部", "第一党小组", "李红梅", "13800000002", "full", "organizer", "2005-06-12"),
    ("第一党支部", "第一党小组", "王志强", "13800000003", "full", "dues_collector", "2010-03-08"),
    ("第一党支部", "第二党小组", "赵丽娟", "13800000004", "full", "group_leader", "2012-09-20"),
    ("第一党支部", "第二党小组", "刘洋", "13800000005", "probationary", "", "2025-12-01"),
    ("第一党支部", "第二党小组", "陈静", "13800000006", "full", "", "2015-05-04"),
    ("第二党支部", "", "杨帆", "13800000007", "full", "secretary", "2003-10-15"),
    ("第二党支部", "", "黄伟", "13800000008", "full", "organizer", "2008-01-22"),
    ("第二党支部", "", "周敏", "13800000009", "full", "propaganda", "2011-11-11"),
    ("第二党支部", "", "吴磊", "13800000010", "full", "", "2018-07-01"),
    ("第二党支部", "", "郑秀英", "13800000011", "full", "committee_admin", "1998-06-30"),
    ("第二党支部", "", "孙浩", "13800000012", "activist", "", ""),
]
# Birth dates (出生日期) by phone, for the committee's age structure; 孙浩 has none (未知).
DEMO_BIRTHS = {
    "13800000001": "1972-04-18", "13800000002": "1978-09-02", "13800000003": "1983-01-27",
    "13800000004": "1986-06-15", "13800000005": "1999-03-10", "13800000006": "1991-12-05",
    "13800000007": "1969-08-21", "13800000008": "1975-02-11", "13800000009": "1988-10-30",
    "13800000010": "1995-07-07", "13800000011": "1964-05-20",
}  # fmt: skip
# Demo accounts already bound, so check-ins and sign-ins work at once.
DEMO_OPENID = "demo-openid-01"
DEMO_PHONE = "13800000006"
SECRETARY_OPENID = "demo-secretary-01"
SECRETARY_PHONE = "13800000001"
ADMIN_PHONE = "13800000011"  # 郑秀英, the committee admin
# The same two people in the mini-program (an account of its own per app, as in WeChat).
DEMO_MINI_OPENID = "demo-mini-01"
SECRETARY_MINI_OPENID = "demo-mini-secretary"
TOPICS = [
    ("学习《中国共产党章程》总纲", "https://www.12371.cn/"),
    ("学习《中国共产党支部工作条例（试行）》第一章", "https://www.12371.cn/"),
    ("重温入党誓词，谈谈初心使命", ""),
]


def seed(settings: Settings) -> dict[str, Any]:
    """Fill the demo database (idempotent); return what to show the newcomer."""
    tz_today = local_now(_tz(settings)).date()
    with write_tx():
        committee, _ = Committee.get_or_create(name=COMMITTEE)
        branches: dict[str, Branch] = {}
        for bname, gname, name, phone, status, roles, joined in MEMBERS:
            branch = branches.get(bname)
            if branch is None:
                branch, _ = Branch.get_or_create(committee=committee, name=bname)
                branches[bname] = branch
            group = PartyGroup.get_or_create(branch=branch, name=gname)[0] if gname else None
            if not Member.select().where(Member.phone == phone).exists():
                Member.create(
                    name=name,
                    phone=phone,
                    branch=branch,
                    party_group=group,
                    status=status,
                    roles=roles,
                    joined_on=date.fromisoformat(joined) if joined else None,
                )
        _demo_births()
        for offset, (title, url) in enumerate(TOPICS):
            day = tz_today + timedelta(days=offset)
            if (
                not StudyTopic.select()
                .where(StudyTopic.day == day, StudyTopic.committee == committee)
                .exists()
            ):
                StudyTopic.create(day=day, title=title, url=url, committee=committee)
        demo_member = Member.get(Member.phone == DEMO_PHONE)
        secretary = Member.get(Member.phone == SECRETARY_PHONE)
        for openid, member, wx_app in (
            (DEMO_OPENID, demo_member, "oa"),
            (SECRETARY_OPENID, secretary, "oa"),
            (DEMO_MINI_OPENID, demo_member, "mini"),
            (SECRETARY_MINI_OPENID, secretary, "mini"),
        ):
            if not WechatBinding.select().where(WechatBinding.openid == openid).exists():
                WechatBinding.create(openid=openid, member=member, app=wx_app)
        _demo_records(secretary, list(branches.values()), settings)
        newcomer = Member.get(Member.phone == "13800000005")
        code = issue_codes(
            [newcomer],
            secret_key=settings.app.secret_key,
            now=utcnow(),
            ttl_days=settings.binding.code_ttl_days,
            length=settings.binding.code_length,
        )[0]
    return {
        "demo_member": demo_member,
        "newcomer": newcomer,
        "code": code.code,
        "branches": len(branches),
        "members": Member.select().count(),
    }


def _demo_records(secretary: Member, branches: list[Branch], settings: Settings) -> None:
    """What the branches have on record beyond the roster, each part unless it exists."""
    now = utcnow()
    _demo_meeting(secretary, settings)
    _demo_channels(branches)
    _demo_dues(settings, now)
    _demo_rectification(secretary, settings, now)
    _demo_organization(branches, settings, now)
    _demo_volunteer(secretary, settings, now)
    _demo_training(secretary, settings, now)
    _demo_development(secretary, settings, now)
    _demo_membership(branches, settings, now)
    _demo_reads(secretary, settings, now)


def _demo_meeting(secretary: Member, settings: Settings) -> None:
    """Schedule a theme day starting in 20 minutes, so sign-in can be tried at once."""
    from handlers.errors import DomainError
    from handlers.meetings import create_meeting

    now = utcnow()
    start = (now + timedelta(minutes=20)).replace(second=0, microsecond=0)
    try:
        with db.atomic():
            create_meeting(
                secretary,
                kind="theme_day",
                start=start,
                end=start + timedelta(hours=1),
                place="社区党群服务中心",
                title="重温入党誓词",
                now=now,
                settings=settings,
            )
    except DomainError:
        pass  # an earlier run's meeting is still there


def _demo_channels(branches: list[Branch]) -> None:
    """The first branch's group gets a (fake) WeCom robot; the second writes to the console."""
    from handlers.outbox import set_branch_channel

    now = utcnow()
    set_branch_channel(
        branches[0].id,
        "wecom_robot",
        "demo-robot-branch1",
        now,
        nudge_enabled=True,
        volunteer_enabled=True,
    )
    set_branch_channel(branches[1].id, "console", "", now)


# The demo's party members by phone: monthly base (yuan), and how many months ago their
# payments stop (1: paid through last month; 3, 5, 6: the six-month rule's alert levels).
DEMO_DUES = {
    "13800000001": ("9800", 1), "13800000002": ("7600", 1), "13800000003": ("6200", 1),
    "13800000004": ("5400", 3), "13800000005": ("4800", 1), "13800000006": ("3600", 2),
    "13800000007": ("8800", 1), "13800000008": ("7000", 1), "13800000009": ("5900", 5),
    "13800000010": ("4300", 1), "13800000011": ("3200", 6),
}  # fmt: skip


def _demo_dues(settings: Settings, now: datetime) -> None:
    """Give the demo's party members a dues base from January and payments up to a month."""
    from handlers import dues

    current = dues.this_month(now, _tz(settings))
    january = current.replace(month=1)
    for phone, (base, behind) in DEMO_DUES.items():
        member = Member.get(Member.phone == phone)
        if DuesAssessment.select().where(DuesAssessment.member == member.id).exists():
            continue
        start = max(january, member.joined_on.replace(day=1))
        category = "retired" if phone == "13800000011" else "in_service"
        dues.set_assessment(
            None, member, category, base_fen=dues.yuan_to_fen(base), from_month=start,
            now=now, settings=settings,
        )  # fmt: skip
        months = dues.month_span(start, dues.add_months(current, -behind))
        if months:
            book = dues.load_book(member)
            total = sum(book.due(m, settings).amount_fen for m in months)
            dues.record_payment(None, member, total, months, now=now, settings=settings)


# The demo branch's rectification items: one of each list, the last one overdue.
# (kind, source, problem, measure, owner: a phone or a role, days to the deadline)
DEMO_ITEMS = [
    ("problem", "life_meeting", "“三会一课”会议记录不完整，部分党课缺少记录",
     "补齐记录；今后会后三日内录入系统", "organizer", 30),
    ("task", "inspection", "党员活动室学习资料更新不及时",
     "每月更新学习资料，建立更新台账", DEMO_PHONE, 7),
    ("duty", "self_check", "党费收缴台账与系统记录未按月核对",
     "每月5日前核对一次并签字", "13800000003", -5),
]  # fmt: skip


def _demo_rectification(secretary: Member, settings: Settings, now: datetime) -> None:
    """Raise the demo branch's rectification items (the secretary's), unless it has some."""
    from handlers.rectification import create_item
    from models.rectification import RectificationItem

    branch_id = secretary.branch_id
    if RectificationItem.select().where(RectificationItem.branch == branch_id).exists():
        return
    today = local_now(_tz(settings)).date()
    for kind, source, problem, measure, owner, days in DEMO_ITEMS:
        person = Member.get_or_none(Member.phone == owner)
        create_item(
            secretary, branch_id, kind=kind, source=source, problem=problem, measure=measure,
            owner_id=person.id if person else None, owner_role=None if person else owner,
            deadline=today + timedelta(days=days), now=now, settings=settings,
        )  # fmt: skip


# Two party members of the demo branch on the roster for long and silent since: one followed
# up as a 流动党员, one still to contact. (name, phone, joined, outcome, place)
DEMO_LOST = [
    ("马建军", "13800000013", "2009-07-01", "away", "浙江省杭州市"),
    ("林芳", "13800000014", "2013-05-20", "", ""),
]


def _demo_organization(branches: list[Branch], settings: Settings, now: datetime) -> None:
    """The branches' committee terms (the second's ends within months), a party-affairs
    staffer in the first branch, and its lost-contact cases, one followed up."""
    from handlers.organization import record_outcome, record_term
    from handlers.organization.terms import add_years
    from models.organization import BranchTerm

    today = local_now(_tz(settings)).date()
    first, second = branches[0], branches[1]
    starts = {first.id: add_years(today, -1), second.id: add_years(today, -3) + timedelta(120)}
    for branch in (first, second):
        if BranchTerm.select().where(BranchTerm.branch == branch.id).exists():
            continue
        secretary = Member.get(Member.branch == branch.id, Member.roles.contains("secretary"))
        note = "第五届支部委员会" if branch is first else "第四届支部委员会"
        record_term(
            secretary, branch.id, started_on=starts[branch.id], note=note, now=now,
            settings=settings,
        )  # fmt: skip
    staffer = Member.get(Member.phone == "13800000003")
    if not staffer.has_role("affairs_staff"):
        staffer.roles = ",".join(sorted(staffer.role_set | {"affairs_staff"}))
        staffer.save()
    secretary = Member.get(Member.phone == SECRETARY_PHONE)
    long_ago = now - timedelta(days=settings.alerts.lost_contact_days + 300)
    for name, phone, joined, outcome, place in DEMO_LOST:
        member, created = Member.get_or_create(
            phone=phone,
            defaults={"name": name, "branch": first, "joined_on": date.fromisoformat(joined),
                      "created_at": long_ago, "updated_at": long_ago},
        )  # fmt: skip
        if created and outcome:
            record_outcome(
                secretary, member.id, outcome=outcome, happened_on=today - timedelta(days=3),
                place=place, note="电话联系上，在外务工，已纳入流动党员管理", now=now,
                settings=settings,
            )  # fmt: skip


def _demo_births() -> None:
    """Give the demo members their birth dates (those without one yet)."""
    for phone, born in DEMO_BIRTHS.items():
        Member.update(birth_date=date.fromisoformat(born)).where(
            Member.phone == phone, Member.birth_date.is_null()
        ).execute()


# The demo branch's volunteer service: (phone, days ago, minutes, what, confirmed).
DEMO_SERVICE = [
    (DEMO_PHONE, 2, 120, "周六扶贫日：走访慰问困难群众", True),
    ("13800000002", 9, 90, "社区环境整治", True),
    (DEMO_PHONE, 1, 60, "文明交通劝导", False),  # waiting for the secretary
]


def _demo_volunteer(secretary: Member, settings: Settings, now: datetime) -> None:
    """Log the demo branch's volunteer service, two entries confirmed, unless it has some."""
    from handlers.volunteer import confirm_entry, log_service
    from models.volunteer import VolunteerEntry

    if VolunteerEntry.select().where(VolunteerEntry.branch == secretary.branch_id).exists():
        return
    today = local_now(_tz(settings)).date()
    for phone, ago, minutes, what, confirmed in DEMO_SERVICE:
        member = Member.get(Member.phone == phone)
        entry = log_service(
            member, minutes=minutes, description=what, day=today - timedelta(days=ago),
            source="bot", now=now, settings=settings,
        ).entry  # fmt: skip
        if confirmed:
            confirm_entry(secretary, entry.id, now=now, settings=settings)


def _demo_training(secretary: Member, settings: Settings, now: datetime) -> None:
    """A county course for three members of the demo branch, unless it has a training."""
    from handlers.training import add_training
    from models.training import TrainingRecord

    if TrainingRecord.select().where(TrainingRecord.branch == secretary.branch_id).exists():
        return
    people = Member.select(Member.id).where(Member.phone.in_([SECRETARY_PHONE, DEMO_PHONE]))
    add_training(
        secretary, None, member_ids=[m.id for m in people], title="县委党校党员轮训班",
        day=local_now(_tz(settings)).date() - timedelta(days=3), minutes=16 * 60,
        now=now, settings=settings,
    )  # fmt: skip


# The demo branch's people in development: (name, phone, [(step, days ago, contacts, note)]).
# 钱小雨's talk is overdue (due a month after the application, 45 days ago); 何晓东's year as
# an activist is complete (the secretary may propose him); 林思远 awaits admission.
DEMO_DEVELOPMENT = [
    ("钱小雨", "13800000021", [("apply", 45)]),
    ("何晓东", "13800000022", [("apply", 500), ("talk", 480), ("activist", 370),
                              ("contacts", 370), ("review", 190), ("review", 10)]),
    ("林思远", "13800000023", [("apply", 800), ("talk", 780), ("activist", 700),
                              ("contacts", 700), ("review", 520), ("review", 340),
                              ("candidate", 300), ("review", 160), ("political_review", 60),
                              ("training", 30)]),
]  # fmt: skip
DEMO_CONTACTS = ("13800000002", DEMO_PHONE)  # 李红梅 and 陈静


def _demo_development(secretary: Member, settings: Settings, now: datetime) -> None:
    """Record the demo branch's people in development (the secretary's), unless it has some."""
    from handlers.development import record_step
    from models.development import DevelopmentRecord

    branch_id = secretary.branch_id
    if (
        DevelopmentRecord.select()
        .join(Member, on=DevelopmentRecord.member == Member.id)
        .where(Member.branch == branch_id)
        .exists()
    ):
        return
    today = local_now(_tz(settings)).date()
    contacts = tuple(Member.get(Member.phone == p).id for p in DEMO_CONTACTS)
    for name, phone, steps in DEMO_DEVELOPMENT:
        person = Member.get_or_none(Member.phone == phone) or Member.create(
            name=name, phone=phone, branch=branch_id, status="applicant"
        )
        for step, days in steps:
            record_step(
                secretary, person.id, step, on=today - timedelta(days=days),
                contact_ids=contacts if step == "contacts" else (),
                note="思想积极，学习认真" if step == "review" else "",
                now=now, settings=settings,
            )  # fmt: skip


def _demo_membership(branches: list[Branch], settings: Settings, now: datetime) -> None:
    """马军 moved from the second branch to the first three weeks ago (his check-in went with
    him), and 钱进 left the second branch ten days ago (转出), both recorded by the committee
    admin; once each."""
    from handlers.membership import leave_member, transfer_member
    from models.membership import Departure, Transfer
    from models.study import StudyCheckin

    today = local_now(_tz(settings)).date()
    first, second = branches[0], branches[1]
    admin = Member.get(Member.phone == ADMIN_PHONE)
    if not Transfer.select().exists():
        mover = Member.create(
            name="马军", phone="13800000031", branch=second, joined_on=date(2016, 7, 1)
        )
        StudyCheckin.create(member=mover, day=today - timedelta(days=25), reflection="学习党章")
        transfer_member(
            admin, mover.id, to_branch_id=first.id, moved_on=today - timedelta(days=21),
            now=now, settings=settings,
        )  # fmt: skip
    if not Departure.select().exists():
        leaver = Member.create(
            name="钱进", phone="13800000032", branch=second, joined_on=date(2014, 6, 18)
        )
        leave_member(
            admin, leaver.id, reason="transfer_out", left_on=today - timedelta(days=10),
            now=now, settings=settings,
        )  # fmt: skip


def _demo_reads(secretary: Member, settings: Settings, now: datetime) -> None:
    """The read log (查阅记录): the secretary opened the demo member's page two days ago and
    downloaded the roster yesterday, in the console."""
    from core.doors import through
    from handlers.privacy.reads import note_member_read
    from handlers.reports.roster import roster_rows
    from models.reads import ReadEntry

    if ReadEntry.select().exists():
        return
    with through("console"):
        note_member_read(
            secretary, Member.get(Member.phone == DEMO_PHONE), "member", now=now - timedelta(2)
        )
        roster_rows(secretary, settings=settings, now=now - timedelta(1))


def _tz(settings: Settings) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.app.timezone)


# Console login links printed by the demo stay valid this long (the bot's: console.login_minutes).
DEMO_LINK_MINUTES = 60


def demo_console_links(settings: Settings, now: datetime) -> list[tuple[str, str, str]]:
    """One-time console login links for the demo secretary and committee admin:
    (name, role label, token)."""
    from handlers.console.access import issue_login_link, may_use_console

    links = []
    for phone, label in ((SECRETARY_PHONE, "书记"), (ADMIN_PHONE, "党委管理员")):
        member = Member.get_or_none(Member.phone == phone)
        if member is None or not may_use_console(member):  # a demo database from before
            continue
        link = issue_login_link(member, settings=settings, now=now, minutes=DEMO_LINK_MINUTES)
        links.append((member.name, label, link.token))
    return links
