"""Correcting a recorded development step, and removing the latest one: each checked whole
first (handlers.development.corrections), then written in one transaction with the member's
status and days and the audit entry; a refusal writes nothing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from peewee import IntegrityError

from core.config import Settings
from handlers.audit import record as audit
from handlers.development.base import local_today, managed_person, person_of
from handlers.development.checks import StepInput
from handlers.development.corrections import (
    FIELDS,
    Correction,
    Recorded,
    check_correction,
    check_extras,
    check_removal,
    not_recorded,
    one_review,
)
from handlers.development.rules import day_text
from handlers.development.steps import checked_input, move
from handlers.development.views import Detail, detail_of
from handlers.errors import Conflict, Invalid
from models.base import write_tx
from models.development import STEPS, DevelopmentRecord, DevelopmentReview
from models.org import Member


def correct_step(
    actor: Member,
    member_id: int,
    step: str,
    correction: Correction,
    *,
    review_on: date | None = None,
    now: datetime,
    settings: Settings,
) -> Detail:
    """Correct a recorded step of a person's development (a manager of their branch): its day,
    and the contacts (指定培养联系人), the findings (培养考察: the one of ``review_on``) or an
    extension's months and reason. Refused whole when the corrected record would break an
    order or time rule; 入党日期 and 转正日期 follow the step's day when it had set them."""
    person = managed_person(actor, member_id)
    if step not in STEPS:
        raise Invalid("步骤应为以下之一：" + "、".join(STEPS.values()) + "。")
    check_extras(step, correction)
    found = person_of(person)
    if step == "review":
        current = one_review(found, review_on)
    else:
        day = getattr(found.record, FIELDS[step]) if found.record is not None else None
        if day is None:
            raise not_recorded(person, step)
        current = Recorded(step, day)
    today = local_today(now, settings)
    on = correction.on or current.on
    checked = checked_input(
        StepInput(step, on, (), correction.note or "", correction.months), today, settings
    )
    got = Correction(on, correction.contact_ids, _note(correction, checked), correction.months)
    check_correction(found, step, on, got, current, settings)
    before, after = _changes(found, step, current, got)
    if not after:  # the same as recorded: nothing to write
        return detail_of(found, today, settings)
    with write_tx():
        _write(found, current, after, now)
        member = _follow(person, step, current.on, on)
        if member:
            move(person, member, now)
        audit(
            actor,
            "development.step_correct",
            summary=f"更正发展党员步骤：{person.name} {STEPS[step]}（{day_text(current.on)}"
            + (f" → {day_text(on)}" if on != current.on else "")
            + "）",
            target=f"member:{person.id}",
            branch_id=person.branch_id,
            before={"step": step, **before},
            after={"step": step, **after, **member},
            now=now,
        )
    return detail_of(person_of(Member.get_by_id(person.id)), today, settings)


def _note(correction: Correction, checked: StepInput) -> str | None:
    return None if correction.note is None else checked.note


def _changes(
    found: Any, step: str, current: Recorded, got: Correction
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields the correction changes: (before, after)."""
    record = found.record
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}

    def change(name: str, old: Any, new: Any) -> None:
        if new is not None and new != old:
            before[name], after[name] = old, new

    if step == "review":
        change("on", current.on, got.on)
        change("note", current.review.note, got.note)
        return before, after
    change(FIELDS[step], current.on, got.on)
    if got.contact_ids is not None:
        ids = list(dict.fromkeys(got.contact_ids))
        change("contact_1", record.contact_1_id, ids[0])
        second = ids[1] if len(ids) == 2 else None
        if second != record.contact_2_id:
            before["contact_2"], after["contact_2"] = record.contact_2_id, second
    change("extension_months", record.extension_months, got.months)
    if step == "extend":
        change("extension_reason", record.extension_reason, got.note)
    return before, after


def _write(found: Any, current: Recorded, after: dict[str, Any], now: datetime) -> None:
    if current.review is not None:
        try:
            (
                DevelopmentReview.update(**after)
                .where(DevelopmentReview.id == current.review.id)
                .execute()
            )
        except IntegrityError:  # another manager recorded a review of that day meanwhile
            raise Conflict("刚刚有人登记了同一天的培养考察，请刷新后查看。") from None
        return
    DevelopmentRecord.update(**after, updated_at=now).where(
        DevelopmentRecord.id == found.record.id
    ).execute()


def _follow(person: Member, step: str, old: date, new: date) -> dict[str, Any]:
    """入党日期 and 转正日期 follow the day of the step that set them."""
    if old == new:
        return {}
    if step == "admit" and person.joined_on == old:
        return {"joined_on": new}
    if step == "full" and person.full_on == old:
        return {"full_on": new}
    return {}


def remove_step(
    actor: Member,
    member_id: int,
    step: str,
    *,
    reason: str,
    now: datetime,
    settings: Settings,
) -> Detail:
    """Remove the latest recorded step of a person's development with the reason (a manager
    of their branch); a step that moved the status moves it back, and 入党日期 or 转正日期 it
    set are cleared. Refused when ``step`` is not the latest."""
    person = managed_person(actor, member_id)
    if step not in STEPS:
        raise Invalid("步骤应为以下之一：" + "、".join(STEPS.values()) + "。")
    reason = " ".join((reason or "").split())
    most = settings.development.note_max_chars
    if not reason:
        raise Invalid("请写明删除这一步的原因。", errcode="missing_field")
    if len(reason) > most:
        raise Invalid(f"原因最多 {most} 字，本次 {len(reason)} 字，未保存。", errcode="too_long")
    found = person_of(person)
    removal = check_removal(found, step)
    latest = removal.latest
    with write_tx():
        if latest.review is not None:
            DevelopmentReview.delete().where(DevelopmentReview.id == latest.review.id).execute()
        else:
            DevelopmentRecord.update(**removal.record, updated_at=now).where(
                DevelopmentRecord.id == found.record.id
            ).execute()
        if removal.member:
            move(person, removal.member, now)
        record = found.record
        before = {"step": step, "on": latest.on}
        before.update({k: record.__data__.get(k) for k in removal.record if k != FIELDS.get(step)})
        before.update({k: getattr(person, k) for k in removal.member})
        audit(
            actor,
            "development.step_remove",
            summary=f"删除发展党员步骤：{person.name} {latest.label}"
            f"（{day_text(latest.on)}），原因：{reason}",
            target=f"member:{person.id}",
            branch_id=person.branch_id,
            before={k: v for k, v in before.items() if v not in (None, "")},
            after={"reason": reason, **removal.member},
            now=now,
        )
    return detail_of(person_of(Member.get_by_id(person.id)), local_today(now, settings), settings)
