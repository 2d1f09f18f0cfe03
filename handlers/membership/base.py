"""What leaving and transfers share: who may record them, the day, the reason, and the keyed
hash under which a departed member's mobile number is remembered."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from handlers.errors import Forbidden, Invalid, NotFound
from models.membership import REASONS, Transfer
from models.org import Branch, Member

ONLY_ADMINS = "只有党委管理员可以办理党员离开、转回和组织关系转接。"
NOT_FOUND = "请求的资源不存在，或您无权查看。"
# What the reason words people type mean (the labels and the codes themselves, too).
REASON_WORDS: dict[str, str] = {
    **{label: code for code, label in REASONS.items()},
    **{code: code for code in REASONS},
    "转出组织关系": "transfer_out",
    "死亡": "died",
    "病故": "died",
    "开除党籍": "expelled",
    "除名": "expelled",
    "自行脱党": "stopped",
}


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def reason_code(text: str) -> str:
    """The reason code of what was typed (转出, 去世, 出党, 停止党籍, or a code), or refuse."""
    typed = (text or "").strip()
    code = REASON_WORDS.get(typed)
    if code is None:
        raise Invalid(
            f"离开原因“{typed[:20]}”无法识别，可填：{'、'.join(REASONS.values())}。",
            errcode="invalid_reason",
        )
    return code


def phone_hash(secret_key: str, phone: str) -> str:
    """The keyed hash a departed member's number is remembered by (never the number)."""
    message = f"departed-phone:{phone}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def require_admin(actor: Member | None) -> None:
    """Refuse anyone but a committee admin (``None``, the operator at the command line, may)."""
    if actor is not None and not actor.has_role("committee_admin"):
        raise Forbidden(ONLY_ADMINS, errcode="forbidden")


def admin_reaches(actor: Member | None, branch: Branch) -> bool:
    """Whether the actor (a committee admin, or the operator: None) reaches this branch."""
    if actor is None:
        return True
    own = Branch.get_by_id(actor.branch_id)
    return actor.has_role("committee_admin") and own.committee_id == branch.committee_id


def member_of(actor: Member | None, member_id: int, branch_id: int | None = None) -> Member:
    """The member (with their branch) as a committee admin of theirs sees them: one of another
    committee, or not of ``branch_id`` when given, is not found."""
    require_admin(actor)
    found = Member.select(Member, Branch).join(Branch).where(Member.id == member_id).first()
    if found is None or (branch_id is not None and found.branch_id != branch_id):
        raise NotFound(NOT_FOUND, errcode="not_found")
    if not admin_reaches(actor, found.branch):
        raise NotFound(NOT_FOUND, errcode="not_found")
    return found


def checked_day(
    day: date, what: str, member: Member, *, now: datetime, settings: Settings
) -> date:
    """A day that has come, within roster.backdate_days, not before the member's last
    transfer; refused in words naming ``what`` (离开日期, 转接日期)."""
    today = local_day(now, ZoneInfo(settings.app.timezone))
    if day > today:
        raise Invalid(
            f"{what} {day_text(day)} 晚于今天，请填写已经发生的日期。", errcode="day_ahead"
        )
    days = settings.roster.backdate_days
    earliest = today - timedelta(days=days)
    if day < earliest:
        raise Invalid(
            f"{what}应在最近 {days} 天内（{day_text(earliest)} 以后，"
            "设置项 roster.backdate_days），请核对。",
            errcode="day_too_early",
        )
    last = (
        Transfer.select(Transfer.moved_on)
        .where(Transfer.member == member.id)
        .order_by(Transfer.moved_on.desc())
        .scalar()
    )
    if last is not None and day < last:
        raise Invalid(
            f"{what} {day_text(day)} 早于{member.name}上次转接组织关系的日期 "
            f"{day_text(last)}，请核对。",
            errcode="day_before_transfer",
        )
    return day


def day_end(day: date, now: datetime, settings: Settings) -> datetime:
    """The moment after which a member who left (or moved) on ``day`` is no longer expected:
    the start of the next local day, or now when that is still ahead."""
    tz = ZoneInfo(settings.app.timezone)
    following = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return min(following, now)
