"""Demo data and the `demo` command: a committee, two branches, a dozen members, a topic."""

from __future__ import annotations

import logging
import shlex
from datetime import date, datetime, timedelta
from typing import Any

import click
from flask import Flask

from core.clock import local_now, utcnow
from core.config import Settings
from handlers.binding import format_code, issue_codes
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
    ("第二党支部", "", "郑秀英", "13800000011", "full", "", "1998-06-30"),
    ("第二党支部", "", "孙浩", "13800000012", "activist", "", ""),
]
# Demo accounts already bound, so check-ins and sign-ins work at once.
DEMO_OPENID = "demo-openid-01"
DEMO_PHONE = "13800000006"
SECRETARY_OPENID = "demo-secretary-01"
SECRETARY_PHONE = "13800000001"
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
        _demo_meeting(secretary, settings)
        _demo_channels(list(branches.values()))
        _demo_dues(settings, utcnow())
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


def _tz(settings: Settings) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(settings.app.timezone)


def run_demo(app: Flask, *, serve: bool) -> None:
    """Migrate, seed, start the fake WeChat, print what to try, then serve."""
    from models.migrate import upgrade

    settings = app.config["ZHIBU"]
    demo = settings.demo
    fake = _start_fake(demo.host, demo.fake_wechat_port, settings)
    overrides = _point_at_fake(settings, fake.base_url) if fake is not None else {}
    with db.connection_context():
        upgrade(db.obj)
        info = seed(settings)
        if fake is not None:
            from scheduler.jobs import meeting_qr_codes

            meeting_qr_codes(settings)
    sim = "flask --app app simulate"
    if not _in_venv_path():
        sim = ".venv/bin/" + sim
    click.echo(
        f"\n== zhibu demo: {info['branches']} branches, {info['members']} members, "
        f"database {settings.database.url}\n"
        f"Callback: http://{demo.host}:{demo.port}/wechat "
        f"(mode: {settings.wechat.mode})"
        "\n\nIn another terminal, talk to the bot as a party member:\n"
        f"  {sim} --openid {DEMO_OPENID} {shlex.quote('学习 今天读了党章第一章，很有收获')}\n"
        f"  {sim} --openid {DEMO_OPENID} 我的\n"
        f"  {sim} --openid {DEMO_OPENID} 帮助\n"
        "Bind a new account with a one-time code (issued for 刘洋 just now):\n"
        f"  {sim} --openid my-new-openid --event subscribe\n"
        f"  {sim} --openid my-new-openid {shlex.quote('绑定 ' + format_code(info['code']))}\n"
        "As the secretary (a theme day starts in 20 minutes):\n"
        f"  {sim} --openid {SECRETARY_OPENID} 开始签到\n"
        f"  {sim} --openid {DEMO_OPENID} '签到 CODE'   # the code 开始签到 answered\n"
        f"  {sim} --openid {SECRETARY_OPENID} '会议 情况'\n"
        f"  {sim} --openid {SECRETARY_OPENID} 本月\n"
        "The mini-program API (/api/v1; wx.login is played by the fake WeChat):\n"
        f"  {sim}-login --openid {DEMO_MINI_OPENID}        # prints a token and curl examples\n"
        f"  {sim}-login --openid {SECRETARY_MINI_OPENID}\n"
    )
    if fake is not None:
        click.echo(
            f"Local fake WeChat API: {fake.base_url} — every message it accepts (group robot,"
            " template messages) is logged below as 'fake WeChat accepted'.\n"
        )
    if not serve:
        return
    scheduler = _start_scheduler(overrides)
    click.echo("Scheduler started in its own process (flask --app app jobs lists its jobs).\n")
    try:
        from werkzeug.serving import run_simple

        run_simple(demo.host, demo.port, app, threaded=True)
    finally:
        scheduler.terminate()
        scheduler.wait(10)


def _point_at_fake(settings: Settings, base_url: str) -> dict[str, str]:
    """Send the demo's outbound calls to the local fake; return the same as env overrides."""
    changes = {
        ("wechat", "api_base_url"): base_url,
        ("channels", "wecom_api_base_url"): base_url,
        ("channels", "template_id"): settings.channels.template_id or "demo-template",
        ("channels", "personal_fallback"): "console",
    }
    env = {}
    for (section, key), value in changes.items():
        setattr(getattr(settings, section), key, value)
        env[f"ZHIBU_{section.upper()}__{key.upper()}"] = value
    return env


def _start_scheduler(overrides: dict[str, str]) -> Any:
    """Run the scheduler beside the demo server, as production runs it: its own process."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, **overrides)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "flask", "--app", "app", "scheduler"], env=env
    )


def _in_venv_path() -> bool:
    import shutil
    import sys

    return shutil.which("flask") == sys.prefix + "/bin/flask"


def _start_fake(host: str, port: int, settings: Settings) -> Any:
    """Start the local fake WeChat API for the demo's outbound calls."""
    from bot.fake import FakeWeChat

    wechat = settings.wechat
    try:
        return FakeWeChat(
            host=host, port=port, appid=wechat.app_id, secret=wechat.app_secret
        ).start()
    except OSError as exc:
        log.warning("fake WeChat not started on %s:%s: %s", host, port, exc)
        return None
