"""The checks of a correction or a removal of a recorded development step.

A correction changes a step's day (and its contacts, findings, or an extension's months and
reason) under the rules that recording it obeys: not after today, not before the steps it
follows nor after the steps that follow it, and the time rules (a year as an activist before
becoming a development object, 转正 not before probation ends) — refused with the words that
recording uses. Only the steps recorded are compared, so a record filled from the roster
without every day can still be corrected.

Only the latest step may be removed: the one with the latest day (of equal days, the later in
the order of the steps). Every step that depends on another has a day on or after it and comes
later in the order, so removing the latest never leaves a step without the one it needs. A
step that moved the status moves it back (removing 接收预备党员 returns a 预备党员 to 发展对象).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from core.config import Settings
from handlers.development.base import Person
from handlers.development.checks import (
    candidate_not_early,
    checked_contacts,
    checked_extension,
    full_not_early,
    not_before,
)
from handlers.development.rules import add_months, day_text, probation_end
from handlers.errors import Conflict, Invalid, Refused
from models.development import STEPS, DevelopmentReview
from models.org import STATUSES, Member

# The record field holding each step's day (reviews are rows of their own).
FIELDS: dict[str, str] = {
    "apply": "applied_on",
    "talk": "talked_on",
    "activist": "activist_on",
    "contacts": "contacts_on",
    "candidate": "candidate_on",
    "political_review": "political_review_on",
    "training": "training_on",
    "admit": "admitted_on",
    "extend": "extended_on",
    "full": "full_on",
}
# Each step that follows another must not be dated before it: (earlier, later).
ORDER = (
    ("apply", "talk"),
    ("talk", "activist"),
    ("activist", "contacts"),
    ("activist", "review"),
    ("activist", "candidate"),
    ("candidate", "political_review"),
    ("candidate", "training"),
    ("political_review", "admit"),
    ("training", "admit"),
    ("admit", "extend"),
    ("admit", "full"),
)
# The steps that move the status: the stage before the step, and the one it moves to.
MOVES: dict[str, tuple[str, str]] = {
    "activist": ("applicant", "activist"),
    "candidate": ("activist", "candidate"),
    "admit": ("candidate", "probationary"),
    "full": ("probationary", "full"),
}
# What besides the day each step holds, for a correction.
EXTRAS: dict[str, tuple[str, ...]] = {
    "contacts": ("contact_ids",),
    "review": ("note",),
    "extend": ("note", "months"),
}
EXTRA_LABELS = {"contact_ids": "培养联系人", "note": "说明", "months": "延长月数"}


@dataclass(frozen=True)
class Recorded:
    """One recorded step: its day, and the review row when it is a review."""

    step: str
    on: date
    review: DevelopmentReview | None = None

    @property
    def label(self) -> str:
        return STEPS[self.step]

    @property
    def key(self) -> tuple[date, int, int]:
        return (self.on, list(STEPS).index(self.step), self.review.id if self.review else 0)


def recorded_steps(found: Person) -> list[Recorded]:
    """The steps recorded on the person's record, oldest first (as latest_step orders them)."""
    record = found.record
    if record is None:
        return []
    steps = [Recorded(s, getattr(record, f)) for s, f in FIELDS.items() if getattr(record, f)]
    reviews = DevelopmentReview.select().where(DevelopmentReview.record == record.id)
    steps += [Recorded("review", r.on, r) for r in reviews]
    return sorted(steps, key=lambda r: r.key)


def not_recorded(person: Member, step: str) -> Refused:
    return Refused(
        f"尚未登记{person.name}的“{STEPS[step]}”，无法更正或删除；请先登记这一步。",
        errcode="not_recorded",
    )


def one_review(found: Person, on: date | None) -> Recorded:
    """The review of that day (which one a correction names)."""
    if on is None:
        raise Invalid(
            "请写明要更正哪一次培养考察（review_on：原登记的考察日期）。", errcode="missing_field"
        )
    for step in recorded_steps(found):
        if step.review is not None and step.on == on:
            return step
    raise Refused(
        f"没有{found.member.name} {day_text(on)} 的培养考察记录，请核对日期。",
        errcode="not_recorded",
    )


# ---- removal ---------------------------------------------------------------------------------


@dataclass
class Removal:
    """What removing the latest step writes: record fields cleared, member fields moved back."""

    latest: Recorded
    record: dict[str, Any] = field(default_factory=dict)
    member: dict[str, Any] = field(default_factory=dict)


def check_removal(found: Person, step: str) -> Removal:
    """Removing ``step``, which must be the person's latest; its status moved back."""
    person, record = found.member, found.record
    steps = recorded_steps(found)
    if not any(s.step == step for s in steps):
        raise not_recorded(person, step)
    latest = steps[-1]
    if latest.step != step:
        raise Conflict(
            f"只能删除最近的一步：{person.name}最近的一步是 {day_text(latest.on)} 的"
            f"“{latest.label}”，请先删除它；日期登记错了请用“更正”。",
            errcode="not_latest",
        )
    removal = Removal(latest)
    if step != "review":
        removal.record[FIELDS[step]] = None
    if step == "contacts":
        removal.record.update(contact_1=None, contact_2=None)
    if step == "extend":
        removal.record.update(extension_months=None, extension_reason="")
    if step in MOVES:
        back, moved = MOVES[step]
        if person.status != moved:
            raise Refused(
                f"{person.name}目前是{person.status_label}，不是“{latest.label}”所确定的"
                f"{STATUSES[moved]}，不能删除这一步；请先核对花名册中的党员状态。",
                errcode="wrong_stage",
            )
        removal.member["status"] = back
        if step == "admit" and person.joined_on == record.admitted_on:
            removal.member["joined_on"] = None
        if step == "full" and person.full_on == record.full_on:
            removal.member["full_on"] = None
    return removal


# ---- correction ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    """What a manager corrects: the new day, and the step's other values (None: unchanged)."""

    on: date | None = None
    contact_ids: tuple[int, ...] | None = None
    note: str | None = None
    months: int | None = None

    def given(self) -> list[str]:
        return [k for k in ("on", "contact_ids", "note", "months") if getattr(self, k) is not None]


def check_extras(step: str, got: Correction) -> None:
    """Only what the step holds may be corrected; at least one thing."""
    if not got.given():
        raise Invalid("请至少提供一项要更正的内容（日期、培养联系人、说明或延长月数）。",
                      errcode="missing_field")  # fmt: skip
    for name in got.given():
        if name != "on" and name not in EXTRAS.get(step, ()):
            raise Invalid(
                f"“{STEPS[step]}”没有{EXTRA_LABELS[name]}可以更正。", errcode="invalid_field"
            )


def _days(found: Person, step: str, on: date, review: Recorded | None) -> dict[str, list[date]]:
    """The recorded days of each step after the correction (reviews: several)."""
    days: dict[str, list[date]] = {}
    for s in recorded_steps(found):
        if s.step == step and (s.review is None or s.review.id == review.review.id):
            days.setdefault(s.step, []).append(on)
        else:
            days.setdefault(s.step, []).append(s.on)
    if "admit" not in days and found.member.joined_on and found.record is not None:
        days["admit"] = [found.member.joined_on]  # 入党日期 from the roster
    return days


def check_correction(
    found: Person,
    step: str,
    on: date,
    got: Correction,
    review: Recorded | None,
    settings: Settings,
) -> None:
    """Refuse a correction that breaks an order or a time rule, in recording's words."""
    person = found.member
    days = _days(found, step, on, review)
    for earlier, later in ORDER:
        if step in (earlier, later) and earlier in days and later in days:
            for day in days[later]:
                not_before(day, days[earlier][0], earlier, later)
    if step == "review" and days["review"].count(on) > 1:
        raise Conflict(
            f"已登记{person.name} {day_text(on)} 的培养考察，不能重复登记。",
            errcode="already_recorded",
        )
    if step in ("activist", "candidate") and "activist" in days and "candidate" in days:
        activist, candidate = days["activist"][0], days["candidate"][0]
        if step == "candidate":
            candidate_not_early(person, activist, candidate, settings)
        elif candidate < add_months(activist, settings.development.activist_min_months):
            latest = add_months(candidate, -settings.development.activist_min_months)
            raise Refused(
                f"{person.name}已于 {day_text(candidate)} 确定为发展对象，确定为入党积极分子须在"
                f"其前至少 {settings.development.activist_min_months} 个月，最晚 "
                f"{day_text(latest)}（本次填写的是 {day_text(activist)}）。",
                errcode="too_early",
            )
    _check_probation(found, step, days, got, settings)
    if got.contact_ids is not None:
        checked_contacts(person, got.contact_ids)
    if step == "extend" and (got.months is not None or got.note is not None):
        record = found.record
        months = got.months if got.months is not None else record.extension_months
        checked_extension(months, got.note if got.note is not None else record.extension_reason,
                          settings)  # fmt: skip


def _check_probation(
    found: Person, step: str, days: dict[str, list[date]], got: Correction, settings: Settings
) -> None:
    """转正 not before probation (with any extension) ends, whichever of the three changed."""
    if step not in ("admit", "extend", "full") or "admit" not in days or "full" not in days:
        return
    person, record = found.member, found.record
    months = got.months if got.months is not None else record.extension_months
    admitted, full = days["admit"][0], days["full"][0]
    if step == "full":
        full_not_early(person, admitted, months, full, settings)
        return
    ends = probation_end(admitted, months, settings)
    if full < ends:
        raise Refused(
            f"{person.name}已于 {day_text(full)} 转为正式党员；按本次更正，预备期到 "
            f"{day_text(ends)} 才满，晚于转正日期，请核对。",
            errcode="too_early",
        )
