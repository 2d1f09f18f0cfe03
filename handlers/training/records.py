"""Other training a branch manager records for one or several members of the branch (a county
course, a party school class): title, day and hours, one record per member."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.audit import record
from handlers.branches import branch_acted_for
from handlers.errors import DomainError, Invalid
from handlers.volunteer import day_text, hours_text
from handlers.volunteer.base import checked_text, local_today
from models.base import write_tx
from models.org import BRANCH_MANAGERS, Member
from models.training import TrainingRecord

MAX_MEMBERS = 500  # members one record names at once (a branch is smaller)


@dataclass(frozen=True)
class Recorded:
    record: TrainingRecord
    member_name: str


def _checked_minutes(minutes: int, settings: Settings) -> int:
    most = settings.training.max_hours_per_record
    if minutes <= 0:
        raise Invalid("培训学时应大于 0，例如：3 或 1.5（小时）。", errcode="invalid_hours")
    if minutes > most * 60:
        raise Invalid(
            f"一条培训记录最多 {most} 学时，本次 {hours_text(minutes)}；更长的培训请分段登记。",
            errcode="too_many_hours",
        )
    return minutes


def _members(branch_id: int, member_ids: list[int], branch_name: str) -> list[Member]:
    ids = sorted(set(member_ids))
    if not ids:
        raise Invalid("请选择参加培训的党员。", errcode="missing_field")
    if len(ids) > MAX_MEMBERS:
        raise Invalid(f"一次最多为 {MAX_MEMBERS} 名党员登记培训。")
    found = list(
        Member.select(Member.id, Member.name, Member.branch)
        .where(Member.id.in_(ids), Member.branch == branch_id)
        .order_by(Member.id)
    )
    missing = sorted(set(ids) - {m.id for m in found})
    if missing:
        raise DomainError(
            f"{branch_name}没有编号为 {'、'.join(map(str, missing[:5]))} 的党员，"
            "只能为本支部的党员登记培训。",
            errcode="member_not_in_branch",
        )
    return found


def add_training(
    actor: Member,
    branch_id: int | None,
    *,
    member_ids: list[int],
    title: str,
    day: date,
    minutes: int,
    now: datetime,
    settings: Settings,
) -> list[Recorded]:
    """Record a training (its last day, its hours) for members of the branch: one record each."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    title = checked_text("培训名称", title, settings.training.title_max_chars)
    minutes = _checked_minutes(minutes, settings)
    if day > local_today(now, settings):
        raise Invalid(f"{day_text(day)}还没有到，请在培训结束后登记。", errcode="future_day")
    people = _members(branch.id, member_ids, branch.name)
    with write_tx():
        rows = [
            TrainingRecord.create(
                member=m.id,
                branch=branch.id,
                title=title,
                day=day,
                minutes=minutes,
                created_by=actor.id,
                created_at=now,
            )
            for m in people
        ]
        names = "、".join(m.name for m in people[:5]) + (
            f"等 {len(people)} 人" if len(people) > 5 else ""
        )
        record(
            actor,
            "training.add",
            summary=f"登记培训学时：{title} {day_text(day)} {hours_text(minutes)}，{names}",
            target=f"training:{rows[0].id}",
            branch_id=branch.id,
            after={
                "title": title,
                "day": day,
                "minutes": minutes,
                "member_ids": [m.id for m in people],
            },
            now=now,
        )
    return [Recorded(row, m.name) for row, m in zip(rows, people, strict=True)]
