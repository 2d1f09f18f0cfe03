"""Small builders for test data: committees, branches, members, bindings, topics, codes."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from core.clock import utcnow
from handlers.binding import issue_codes
from handlers.study.topics import forget_topics
from models.org import Branch, Committee, Member, PartyGroup
from models.study import StudyTopic
from models.wechat import WechatBinding

_seq = itertools.count(1)


def committee(name: str = "测试党委") -> Committee:
    return Committee.get_or_create(name=name)[0]


def branch(name: str = "第一党支部", comm: Committee | None = None) -> Branch:
    return Branch.get_or_create(committee=comm or committee(), name=name)[0]


def group(br: Branch, name: str = "第一党小组") -> PartyGroup:
    return PartyGroup.get_or_create(branch=br, name=name)[0]


def member(
    name: str | None = None,
    br: Branch | None = None,
    *,
    roles: str = "",
    status: str = "full",
    phone: str | None = None,
    **fields: Any,
) -> Member:
    n = next(_seq)
    return Member.create(
        name=name or f"党员{n}",
        phone=phone or f"139{n:08d}",
        branch=br or branch(),
        roles=roles,
        status=status,
        **fields,
    )


def bound(m: Member, openid: str | None = None, app: str = "oa") -> str:
    openid = openid or f"openid-{m.id}-{next(_seq)}"
    WechatBinding.create(openid=openid, member=m, app=app)
    return openid


def topic(day: date, title: str = "学习党章", **fields: Any) -> StudyTopic:
    """A topic written straight to the database, as if it had been there all along: this
    process forgets the topics it kept (handlers.study.topics.forget_topics)."""
    made = StudyTopic.create(day=day, title=title, **fields)
    forget_topics()
    return made


def code_for(m: Member, settings: dict[str, dict[str, Any]], ttl_days: int = 7) -> str:
    return issue_codes(
        [m],
        secret_key=settings.app.secret_key,
        now=utcnow(),
        ttl_days=ttl_days,
        length=settings.binding.code_length,
    )[0].code


def assess(
    m: Member,
    category: str = "in_service",
    base_fen: int | None = 800000,
    from_month: date = date(2026, 1, 1),
    **fields: Any,
) -> Any:
    """Give a member a dues category and base from a month on (default: 8000.00 from Jan 2026)."""
    from models.dues import DuesAssessment

    return DuesAssessment.create(
        member=m,
        category=category,
        base_fen=base_fen if category in ("in_service", "retired") else None,
        from_month=from_month,
        **fields,
    )


def pay(m: Member, *months: date, amount_fen: int, by: Member | None = None) -> Any:
    """Record a dues payment row and its months directly (each month at amount_fen)."""
    from models.dues import DuesMonth, DuesPayment

    payment = DuesPayment.create(
        member=m,
        kind="dues",
        amount_fen=amount_fen * len(months),
        source="collector",
        recorded_by=by,
    )
    for month in months:
        DuesMonth.create(payment=payment, member=m, month=month, amount_fen=amount_fen)
    return payment


def group_channel(br: Branch, kind: str = "console", target: str = "", **flags: Any) -> Any:
    """Give a branch a group channel (console by default; "wecom_robot" with a "demo-" key)."""
    from handlers.outbox import set_branch_channel

    return set_branch_channel(br.id, kind, target, utcnow(), **flags)


def wecom_user(m: Member, userid: str) -> None:
    """Record a member's WeCom userid (personal messages and @-mentions use it)."""
    from handlers.outbox import set_wecom_userid

    set_wecom_userid(m.id, userid, utcnow())
