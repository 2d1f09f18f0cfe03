"""Recording a development step: checked whole first (its order, stage and time rule), then
written in one transaction with the member's new status and the audit entry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from peewee import IntegrityError

from core.config import Settings
from handlers.audit import record as audit
from handlers.development.base import local_today, managed_person, person_of
from handlers.development.checks import CHECKS, StepInput
from handlers.development.rules import day_text
from handlers.development.views import Detail, detail_of
from handlers.errors import Conflict, Invalid
from models.base import write_tx
from models.development import STEPS, DevelopmentRecord, DevelopmentReview
from models.org import Member


def checked_input(got: StepInput, today: date, settings: Settings) -> StepInput:
    if got.step not in STEPS:
        raise Invalid("步骤应为以下之一：" + "、".join(STEPS.values()) + "。")
    if got.on > today:
        raise Invalid(
            f"日期 {day_text(got.on)} 晚于今天（{day_text(today)}），请登记已经完成的步骤。",
            errcode="future_day",
        )
    most = settings.development.note_max_chars
    note = (got.note or "").strip()
    if len(note) > most:
        raise Invalid(f"说明最多 {most} 字，本次 {len(note)} 字，未保存。", errcode="too_long")
    return StepInput(got.step, got.on, tuple(got.contact_ids), note, got.months)


def record_step(
    actor: Member,
    member_id: int,
    step: str,
    *,
    on: date,
    contact_ids: tuple[int, ...] | list[int] = (),
    note: str = "",
    months: int | None = None,
    now: datetime,
    settings: Settings,
) -> Detail:
    """Record one step of a person's development (a manager of their branch), moving their
    status where the step does: 确定积极分子 → activist, 确定发展对象 → candidate, 接收预备党员 →
    probationary (with 入党日期), 转正 → full (with 转正日期). Refused whole when out of order,
    at the wrong stage or against a time rule."""
    person = managed_person(actor, member_id)
    today = local_today(now, settings)
    got = checked_input(StepInput(step, on, tuple(contact_ids), note, months), today, settings)
    found = person_of(person)
    if step == "review" and found.record is not None:
        taken = DevelopmentReview.get_or_none(
            DevelopmentReview.record == found.record.id, DevelopmentReview.on == got.on
        )
        if taken is not None:
            raise Conflict(
                f"已登记{person.name} {day_text(got.on)} 的培养考察，不能重复登记。",
                errcode="already_recorded",
            )
    change = CHECKS[step](person, found.days, got, settings)
    with write_tx():
        record = found.record or DevelopmentRecord.create(
            member=person.id, created_at=now, updated_at=now
        )
        before = {k: getattr(record, k) for k in change.record}
        if change.record:
            for name, value in change.record.items():
                setattr(record, name, value)
            record.updated_at = now
            record.save()
        if change.member:
            move(person, change.member, now)
        if change.review:
            try:
                DevelopmentReview.create(
                    record=record.id, on=got.on, note=got.note, created_by=actor.id, created_at=now
                )
            except IntegrityError:  # another manager recorded the same day meanwhile
                raise Conflict("刚刚有人登记了同一天的培养考察，请刷新后查看。") from None
        _audit(actor, person, got, before, change.record, change.member, now)
    return detail_of(person_of(Member.get_by_id(person.id)), today, settings)


def move(person: Member, fields: dict[str, Any], now: datetime) -> None:
    """The member's new status (and days), with their version moved on as any change does."""
    done = (
        Member.update(**fields, updated_at=now, version=Member.version + 1)
        .where(Member.id == person.id, Member.version == person.version)
        .execute()
    )
    if done != 1:
        raise Conflict("刚刚有人修改了这名党员的信息，请刷新后重试。")


def _audit(
    actor: Member,
    person: Member,
    got: StepInput,
    before: dict[str, Any],
    record_after: dict[str, Any],
    member_after: dict[str, Any],
    now: datetime,
) -> None:
    after: dict[str, Any] = {"step": got.step, "on": got.on, **record_after, **member_after}
    if got.step == "review":
        after["note"] = got.note
    audit(
        actor,
        "development.step",
        summary=f"登记发展党员步骤：{person.name} {STEPS[got.step]}（{day_text(got.on)}）",
        target=f"member:{person.id}",
        branch_id=person.branch_id,
        before={k: v for k, v in before.items() if v is not None} or None,
        after=after,
        now=now,
    )
