"""The checks of each development step: its order, its stage and its time rule. Each check
answers what recording the step changes, or refuses with what is wrong and what to do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.config import Settings
from handlers.development.rules import (
    REVIEWED,
    Days,
    candidate_earliest,
    day_text,
    probation_end,
)
from handlers.errors import Conflict, Invalid, Refused
from models.development import STEPS
from models.org import STATUSES, Member


@dataclass(frozen=True)
class StepInput:
    """A step as a manager records it: the day, and what some steps also take."""

    step: str
    on: date
    contact_ids: tuple[int, ...] = ()
    note: str = ""
    months: int | None = None


@dataclass
class Change:
    """What recording a step writes: record fields, member fields, and a review."""

    record: dict[str, Any] = field(default_factory=dict)
    member: dict[str, Any] = field(default_factory=dict)
    review: bool = False


Check = Callable[[Member, Days, StepInput, Settings], Change]


def _stage(person: Member, step: str, *allowed: str) -> None:
    if person.status not in allowed:
        wanted = "或".join(STATUSES[s] for s in allowed)
        raise Refused(
            f"{person.name}目前是{person.status_label}，只有{wanted}才能登记“{STEPS[step]}”。",
            errcode="wrong_stage",
        )


def _needs(person: Member, before: date | None, earlier: str, step: str) -> date:
    """The day of the earlier step, which must be recorded first."""
    if before is None:
        raise Refused(
            f"请先登记{person.name}“{STEPS[earlier]}”的日期，再登记“{STEPS[step]}”。",
            errcode="out_of_order",
        )
    return before


def not_before(on: date, before: date, earlier: str, step: str) -> None:
    if on < before:
        raise Refused(
            f"“{STEPS[step]}”的日期 {day_text(on)} 早于“{STEPS[earlier]}”的日期 "
            f"{day_text(before)}，请核对。",
            errcode="out_of_order",
        )


def _once(person: Member, done: date | None, step: str) -> None:
    if done is not None:
        raise Conflict(
            f"已登记{person.name}于 {day_text(done)} {STEPS[step]}，不能重复登记。",
            errcode="already_recorded",
        )


def check_apply(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "apply", "applicant")
    _once(person, days.applied_on, "apply")
    return Change(record={"applied_on": got.on})


def check_talk(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "talk", "applicant")
    applied = _needs(person, days.applied_on, "apply", "talk")
    _once(person, days.talked_on, "talk")
    not_before(got.on, applied, "apply", "talk")
    return Change(record={"talked_on": got.on})


def check_activist(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "activist", "applicant")
    _needs(person, days.applied_on, "apply", "activist")
    talked = _needs(person, days.talked_on, "talk", "activist")
    not_before(got.on, talked, "talk", "activist")
    return Change(record={"activist_on": got.on}, member={"status": "activist"})


def check_contacts(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "contacts", *REVIEWED)
    activist = _needs(person, days.activist_on, "activist", "contacts")
    not_before(got.on, activist, "activist", "contacts")
    ids = checked_contacts(person, got.contact_ids)
    second = ids[1] if len(ids) == 2 else None
    return Change(record={"contacts_on": got.on, "contact_1": ids[0], "contact_2": second})


def checked_contacts(person: Member, contact_ids: tuple[int, ...]) -> list[int]:
    """One or two full members of the person's branch, not the person: their ids."""
    ids = list(dict.fromkeys(contact_ids))
    if not 1 <= len(ids) <= 2:
        raise Invalid("培养联系人应为本支部的一至两名正式党员。", errcode="invalid_contacts")
    if person.id in ids:
        raise Invalid(f"{person.name}不能做自己的培养联系人。", errcode="invalid_contacts")
    found = {
        m.id: m
        for m in Member.select(Member.id, Member.name, Member.status, Member.branch).where(
            Member.id.in_(ids), Member.branch == person.branch_id
        )
    }
    for member_id in ids:
        contact = found.get(member_id)
        if contact is None or contact.status != "full":
            who = contact.name if contact is not None else f"编号为 {member_id} 的人员"
            raise Invalid(
                f"{who}不是本支部的正式党员，培养联系人应为本支部的正式党员。",
                errcode="invalid_contacts",
            )
    return ids


def check_review(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "review", *REVIEWED)
    activist = _needs(person, days.activist_on, "activist", "review")
    not_before(got.on, activist, "activist", "review")
    return Change(review=True)


def check_candidate(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "candidate", "activist")
    activist = _needs(person, days.activist_on, "activist", "candidate")
    candidate_not_early(person, activist, got.on, settings)
    return Change(record={"candidate_on": got.on}, member={"status": "candidate"})


def candidate_not_early(person: Member, activist: date, on: date, settings: Settings) -> None:
    """A development object at least activist_min_months after the activist decision."""
    earliest = candidate_earliest(activist, settings)
    if on < earliest:
        months = settings.development.activist_min_months
        raise Refused(
            f"{person.name}于 {day_text(activist)} 确定为入党积极分子，须经过至少 {months} "
            f"个月的培养考察，最早 {day_text(earliest)} 才能确定为发展对象"
            f"（本次填写的是 {day_text(on)}）。",
            errcode="too_early",
        )


def _check_candidate_step(field_name: str, step: str) -> Check:
    def check(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
        _stage(person, step, "candidate")
        candidate = _needs(person, days.candidate_on, "candidate", step)
        _once(person, getattr(days, field_name), step)
        not_before(got.on, candidate, "candidate", step)
        return Change(record={field_name: got.on})

    return check


def check_admit(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "admit", "candidate")
    missing = [
        STEPS[step]
        for step, done in (
            ("political_review", days.political_review_on),
            ("training", days.training_on),
        )
        if done is None
    ]
    if missing:
        raise Refused(
            f"接收预备党员前须完成政治审查和集中培训，{person.name}尚未登记："
            + "、".join(missing)
            + "。",
            errcode="out_of_order",
        )
    for step, before in (
        ("political_review", days.political_review_on),
        ("training", days.training_on),
    ):
        assert before is not None
        not_before(got.on, before, step, "admit")
    return Change(
        record={"admitted_on": got.on},
        member={"status": "probationary", "joined_on": got.on},
    )


def check_extend(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "extend", "probationary")
    admitted = _needs(person, days.admitted_on, "admit", "extend")
    if days.extension_months:
        raise Conflict(
            f"{person.name}的预备期已延长 {days.extension_months} 个月，预备期只能延长一次。",
            errcode="already_recorded",
        )
    checked_extension(got.months, got.note, settings)
    not_before(got.on, admitted, "admit", "extend")
    return Change(
        record={
            "extended_on": got.on,
            "extension_months": got.months,
            "extension_reason": got.note.strip(),
        }
    )


def check_full(person: Member, days: Days, got: StepInput, settings: Settings) -> Change:
    _stage(person, "full", "probationary")
    admitted = _needs(person, days.admitted_on, "admit", "full")
    full_not_early(person, admitted, days.extension_months, got.on, settings)
    return Change(record={"full_on": got.on}, member={"status": "full", "full_on": got.on})


def full_not_early(
    person: Member, admitted: date, months: int | None, on: date, settings: Settings
) -> None:
    """转正 not before probation (and its extension of ``months``) ends."""
    ends = probation_end(admitted, months, settings)
    if on < ends:
        extended = f"，预备期延长 {months} 个月" if months else ""
        raise Refused(
            f"{person.name}于 {day_text(admitted)} 接收为预备党员{extended}，预备期到 "
            f"{day_text(ends)} 才满，转正日期不能早于 {day_text(ends)}"
            f"（本次填写的是 {day_text(on)}）。",
            errcode="too_early",
        )


def checked_extension(months: int | None, reason: str, settings: Settings) -> None:
    """An extension of probation: extension_min_months to extension_max_months, a reason."""
    cfg = settings.development
    low, high = cfg.extension_min_months, cfg.extension_max_months
    if months is None or not low <= months <= high:
        raise Invalid(
            f"延长预备期应为 {low} 到 {high} 个月"
            f"（本次填写的是 {months if months is not None else '空'}）。",
            errcode="invalid_months",
        )
    if not reason.strip():
        raise Invalid("请写明延长预备期的原因。", errcode="missing_field")


CHECKS: dict[str, Check] = {
    "apply": check_apply,
    "talk": check_talk,
    "activist": check_activist,
    "contacts": check_contacts,
    "review": check_review,
    "candidate": check_candidate,
    "political_review": _check_candidate_step("political_review_on", "political_review"),
    "training": _check_candidate_step("training_on", "training"),
    "admit": check_admit,
    "extend": check_extend,
    "full": check_full,
}
assert set(CHECKS) == set(STEPS)
