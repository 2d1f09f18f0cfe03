"""Bind a WeChat account to a roster member with a one-time code issued by the secretary."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peewee import IntegrityError, Select

from core.text import fold
from handlers.audit import record
from handlers.errors import DomainError
from handlers.sessions import end_console_sessions, revoke_member_sessions
from models.base import db, write_tx
from models.org import Branch, Member
from models.prepared import columns, execute, fetchone, load
from models.wechat import BindCode, RateEvent, WechatBinding, answered, stored_reply

log = logging.getLogger(__name__)

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class IssuedCode:
    member: Member
    code: str
    expires_at: datetime


def hash_code(secret_key: str, code: str) -> str:
    """Return the keyed hash under which a code is stored."""
    return hmac.new(secret_key.encode(), fold(code).encode(), hashlib.sha256).hexdigest()


def format_code(code: str) -> str:
    """Group a code in fours for reading aloud: ABCD-2345."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def issue_codes(
    members: Iterable[Member], *, secret_key: str, now: datetime, ttl_days: int, length: int
) -> list[IssuedCode]:
    """Create one fresh code per member; earlier unused codes of theirs stop working."""
    issued = []
    expires = now + timedelta(days=ttl_days)
    members = list(members)
    with db.atomic():
        BindCode.update(expires_at=now).where(
            BindCode.member.in_([m.id for m in members]),
            BindCode.used_at.is_null(),
            BindCode.expires_at > now,
        ).execute()
        for member in members:
            code = "".join(secrets.choice(ALPHABET) for _ in range(length))
            BindCode.create(
                code_hash=hash_code(secret_key, code),
                member=member,
                created_at=now,
                expires_at=expires,
            )
            issued.append(IssuedCode(member, code, expires))
    return issued


def _member_query(v: Mapping[str, Any], *extra: Any) -> Select:
    """The member bound to the account ``v["openid"]``, with their branch (and ``extra``)."""
    return (
        Member.select(*columns(Member, Branch), *extra)
        .join(Branch)
        .switch(Member)
        .join(WechatBinding)
        .where(WechatBinding.openid == v["openid"])
        .limit(1)
    )


def _load_member(row: Sequence[Any]) -> Member:
    return load(Member, row, branch=load(Branch, row, len(columns(Member))))


def member_for_openid(openid: str) -> Member | None:
    """Return the member bound to this WeChat account, with their branch, or None.

    Every callback asks this, so the query is prepared once and only bound to the openid.
    """
    row = fetchone("member_for_openid", _member_query, {"openid": openid})
    return None if row is None else _load_member(row)


def member_for_message(
    openid: str, dedupe_key: str
) -> tuple[Member | None, tuple[str | None] | None]:
    """The member bound to the sender's account (as ``member_for_openid``) and the reply
    already stored for the message's dedupe key (a one-tuple; '' for no reply) or None.

    One statement for a bound account, the callback's first read; two for an unbound one.
    """
    row = fetchone(
        "member_for_message",
        lambda v: _member_query(v, answered(v)),
        {"openid": openid, "key": dedupe_key},
    )
    if row is None:
        return None, stored_reply(dedupe_key)
    return _load_member(row), None if row[-1] is None else (row[-1],)


def failures_in_last_hour(openid: str, now: datetime) -> int:
    return (
        RateEvent.select()
        .where(RateEvent.bucket == f"bind:{openid}", RateEvent.at > now - timedelta(hours=1))
        .count()
    )


class WrongCode(DomainError):
    """A code that does not work; counted against the account's hourly allowance."""


@dataclass(frozen=True)
class BindOutcome:
    member: Member | None
    message: str


def bind(
    openid: str,
    code_text: str,
    *,
    secret_key: str,
    now: datetime,
    max_failures: int,
    app: str = "oa",
    unionid: str | None = None,
) -> BindOutcome:
    """Bind the account, or say why not; a wrong code is counted and the count is kept.

    This returns instead of raising so that the failure record survives the caller's
    savepoint (a raised DomainError rolls back everything written inside the handler).
    """
    try:
        with db.atomic():
            member = _bind(openid, code_text, secret_key, now, max_failures, app, unionid)
    except WrongCode as exc:
        RateEvent.create(bucket=f"bind:{openid}", at=now)
        return BindOutcome(None, exc.message)
    except DomainError as exc:
        return BindOutcome(None, exc.message)
    return BindOutcome(member, f"绑定成功！{member.name}同志，欢迎您（{member.branch.name}）。")


def _bind(
    openid: str,
    code_text: str,
    secret_key: str,
    now: datetime,
    max_failures: int,
    app: str,
    unionid: str | None,
) -> Member:
    """Bind the account with a one-time code, or raise DomainError saying why not."""
    current = member_for_openid(openid)
    if current is not None:
        raise DomainError(
            f"您的微信已绑定为 {current.name}（{current.branch.name}），无需重复绑定。"
            "如需更换绑定，请联系支部书记。"
        )
    if failures_in_last_hour(openid, now) >= max_failures:
        raise DomainError("绑定码错误次数过多，请 1 小时后再试，或联系支部书记确认绑定码。")
    code = fold(code_text)
    if not code:
        raise DomainError("请在“绑定”后面加上书记发给您的绑定码，例如：绑定 ABCD2345")
    if len(code) < 8 or any(c not in ALPHABET for c in code):
        raise WrongCode("绑定码格式不对：绑定码由 8 位以上字母和数字组成，请核对后重发。")
    row = BindCode.get_or_none(BindCode.code_hash == hash_code(secret_key, code))
    if row is None:
        raise WrongCode("绑定码不正确，请核对后重发（注意区分字母和数字）。")
    if row.used_at is not None:
        raise WrongCode("该绑定码已被使用过。如非本人操作，请立即联系支部书记。")
    if row.expires_at <= now:
        raise WrongCode("该绑定码已过期，请联系支部书记重新获取。")
    # The conditional update is the guard against two accounts racing for one code.
    claimed = (
        BindCode.update(used_at=now, used_by=openid)
        .where(BindCode.id == row.id, BindCode.used_at.is_null())
        .execute()
    )
    if claimed != 1:
        raise DomainError("该绑定码已被使用过。如非本人操作，请立即联系支部书记。")
    # A new code for a member replaces the account they bound before (a new phone).
    WechatBinding.delete().where(
        WechatBinding.member == row.member_id, WechatBinding.app == app
    ).execute()
    try:
        with db.atomic():
            WechatBinding.create(
                openid=openid, app=app, unionid=unionid, member=row.member_id, created_at=now
            )
    except IntegrityError:
        # Another delivery bound this account a moment ago; the outer savepoint rolls back.
        raise DomainError("绑定未成功，请稍后重试。") from None
    member = Member.select(Member, Branch).join(Branch).where(Member.id == row.member_id).get()
    log.info("bound member id=%s to an %s account", member.id, app)
    return member


@dataclass(frozen=True)
class Unbound:
    bindings: int  # WeChat accounts no longer bound to the member
    sessions: int  # mini-program and console sessions ended


def unbind(member: Member, now: datetime, *, actor: Member | None = None) -> Unbound:
    """Unbind every WeChat account of the member and end their mini-program and console
    sessions at once.

    Their unused binding codes keep working: the secretary may have issued one for a new phone.
    Unbinding a member with no binding changes nothing.
    """
    with write_tx():
        # Sessions first: they are found through the bindings too.
        sessions = revoke_member_sessions(member.id, now)
        sessions += end_console_sessions(member.id, now, "unbound")  # the console's too
        removed = WechatBinding.delete().where(WechatBinding.member == member.id).execute()
        if removed or sessions:
            record(
                actor,
                "roster.unbind",
                summary=f"解除绑定：{member.name}（{removed} 个微信账号）",
                target=f"member:{member.id}",
                branch_id=member.branch_id,
                before={"bindings": removed},
                after={"bindings": 0, "sessions_ended": sessions},
                now=now,
            )
    if removed or sessions:
        log.info(
            "unbound member id=%s: %d bindings removed, %d sessions revoked",
            member.id,
            removed,
            sessions,
        )
    return Unbound(removed, sessions)


def touch(member: Member, now: datetime) -> None:
    """Note that the member interacted (for the lost-contact rule); at most one write an hour."""
    since = now - timedelta(hours=1)
    if member.last_active_at is not None and member.last_active_at > since:
        return
    execute(
        "member_touch",
        lambda v: Member.update(last_active_at=v["now"]).where(
            Member.id == v["id"],
            Member.last_active_at.is_null() | (Member.last_active_at < v["since"]),
        ),
        {"now": now, "since": since, "id": member.id},
    )
