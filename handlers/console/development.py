"""The console's development pages: what they read, composed of the development use cases
(handlers.development) that the mini-program calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.config import Settings
from handlers.development import Contact, Detail, PipelinePage, person_detail, pipeline
from handlers.development.base import hidden, managed_person, person_of
from handlers.development.corrections import Recorded, recorded_steps
from models.org import Member

# People listed on one page of the pipeline (a branch's pipeline is short).
PIPELINE_LIMIT = 200


@dataclass(frozen=True)
class Choices:
    """Whom the step form may name: the people in development, and the branch's full members
    (培养联系人)."""

    people: list[Contact]
    contacts: list[Contact]


def _choices(page: PipelinePage) -> Choices:
    full = (
        Member.select(Member.id, Member.name)
        .where(Member.branch == page.branch.id, Member.status == "full")
        .order_by(Member.id)
        .tuples()
    )
    people = [Contact(v.member.id, v.member.name) for v in page.items]
    return Choices(people, [Contact(i, name) for i, name in full])


@dataclass(frozen=True)
class ListPage:
    page: PipelinePage
    choices: Choices


def list_page(
    actor: Member,
    branch_id: int,
    *,
    stage: str | None,
    overdue: bool | None,
    now: datetime,
    settings: Settings,
) -> ListPage:
    """The branch's pipeline for its managers (filtered), and the form's choices."""
    page = pipeline(
        actor,
        branch_id,
        stage=stage,
        overdue=overdue,
        now=now,
        settings=settings,
        limit=PIPELINE_LIMIT,
        offset=0,
    )
    everyone = page
    if stage or overdue is not None:
        everyone = pipeline(
            actor, branch_id, now=now, settings=settings, limit=PIPELINE_LIMIT, offset=0
        )
    return ListPage(page, _choices(everyone))


@dataclass(frozen=True)
class PersonPage:
    detail: Detail
    contacts: list[Contact]  # the branch's full members, for the form
    recorded: list[Recorded]  # the steps recorded, oldest first (the forms to correct them)

    @property
    def latest(self) -> Recorded | None:
        """The step the removal form offers: only the latest may be removed."""
        return self.recorded[-1] if self.recorded else None


def person_check(actor: Member, branch_id: int, member_id: int) -> None:
    """Refuse a form addressed to a person the actor does not manage, or of another branch
    than the address's (nothing is read: the read log notes only pages shown)."""
    if managed_person(actor, member_id).branch_id != branch_id:
        raise hidden()


def person_page(
    actor: Member, branch_id: int, member_id: int, *, now: datetime, settings: Settings
) -> PersonPage:
    """One person of the branch in the address (another branch's: not found)."""
    person_check(actor, branch_id, member_id)
    found = person_detail(actor, member_id, now=now, settings=settings)
    full = (
        Member.select(Member.id, Member.name)
        .where(Member.branch == branch_id, Member.status == "full")
        .order_by(Member.id)
        .tuples()
    )
    recorded = recorded_steps(person_of(found.view.member))
    return PersonPage(found, [Contact(i, name) for i, name in full], recorded)
