"""The monthly report sent upward: on the 1st, each committee admin gets a download link.

The link carries the committee, the month and its expiry (reports.link_days after it was made),
signed with app.secret_key (itsdangerous); nothing is stored. Whoever holds the link gets the
committee's report, which names no one (branch rows and counts only).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer

from core.clock import local_day
from core.config import Settings
from handlers.errors import Invalid
from handlers.outbox import Outgoing
from handlers.reports.month import Report, month_report
from models.org import Branch, Member

SALT = "zhibu-monthly-report-link"
ROLE = "committee_admin"


def _signer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.app.secret_key, salt=SALT)


def report_link(
    committee_id: int, year: int, month: int, *, settings: Settings, now: datetime
) -> str:
    """The download address of a committee's report for a month, valid reports.link_days
    from ``now`` (the expiry is inside the signed token)."""
    until = int((now + timedelta(days=settings.reports.link_days)).timestamp())
    token = _signer(settings).dumps({"c": committee_id, "y": year, "m": month, "e": until})
    return f"{settings.console.base_url}/console/reports/{token}"


def monthly_report_links(now: datetime, settings: Settings) -> list[Outgoing]:
    """The 1st's messages: last month's report link to every committee admin."""
    today = local_day(now, ZoneInfo(settings.app.timezone))
    last = today.replace(day=1) - timedelta(days=1)
    admins = (
        Member.select(Member.id, Member.branch, Branch.committee, Member.roles)
        .join(Branch)
        .where(Member.roles.contains(ROLE))
        .order_by(Member.id)
        .tuples()
    )
    days = settings.reports.link_days
    rows = []
    for member_id, branch_id, committee_id, roles in admins:
        if ROLE not in roles.split(","):
            continue
        url = report_link(committee_id, last.year, last.month, settings=settings, now=now)
        text = (
            f"【党委月报】{last.year}年{last.month}月的月报已生成（各支部汇总，不含个人信息）。\n"
            f"下载（{days} 天内有效，请勿转发）：{url}"
        )
        rows.append(
            Outgoing(
                "monthly_report",
                "member",
                member_id,
                f"{last.year:04d}-{last.month:02d}",
                {"text": text, "title": "党委月报"},
                branch_id,
            )
        )
    return rows


def report_for_link(token: str, *, settings: Settings, now: datetime) -> Report:
    """The committee report a download link names, or a refusal saying why."""
    try:
        data = _signer(settings).loads(token)
    except BadSignature:
        raise Invalid("下载链接无效，请检查链接是否完整。", errcode="link_invalid") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), int) for k in "cyme"):
        raise Invalid("下载链接无效，请检查链接是否完整。", errcode="link_invalid")
    if now.timestamp() >= data["e"]:
        raise Invalid(
            f"这个下载链接已过期（有效 {settings.reports.link_days} 天）。"
            "请登录控制台，在党委总览中下载月报。",
            errcode="link_expired",
        )
    return month_report(
        None, data["y"], data["m"], committee_id=data["c"], settings=settings, now=now
    )
