"""Shapes of the read log route (api/reads.py): who looked at members (查阅记录)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import Answer, Count, Day, Id, OneLine, Page, PageQuery, TimeText
from api.shapes.v1 import Branch
from models.audit import DOOR_LABELS
from models.reads import READ_KINDS

ReadKind = Literal[tuple(READ_KINDS)]  # type: ignore[valid-type]
Door = Literal[tuple(DOOR_LABELS)]  # type: ignore[valid-type]
KIND_TEXT = ", ".join(f"{code} {label}" for code, label in READ_KINDS.items())


class ReadsQuery(PageQuery):
    member_id: Id | None = Constraint(default=None, description="Reads that named this member")
    member: OneLine(50, required=False) | None = Constraint(
        default=None, description="Reads that named a member whose name contains this"
    )
    manager_id: Id | None = Constraint(default=None, description="Reads by this manager")
    manager: OneLine(50, required=False) | None = Constraint(
        default=None, description="Reads by a manager whose name contains this"
    )
    since: Day | None = Constraint(default=None, description="From this local day (included)")
    until: Day | None = Constraint(default=None, description="To this local day (included)")


class Read(Answer):
    id: int
    at: TimeText
    actor_id: int | None = Constraint(description="None: the server operator (命令行)")
    actor_name: str
    door: Door
    door_label: str
    kind: ReadKind = Constraint(description=KIND_TEXT)
    kind_label: str
    branch: Branch | None = Constraint(description="None: a committee's file")
    subject: str = Constraint(description="The member's name, or the file's")
    member_id: int | None = Constraint(
        description="The member of a detail read (member, development); None for a file"
    )
    members: Count = Constraint(description="How many members the read named")
    full_phones: bool = Constraint(description="A roster with the full phone numbers")


class ReadsPage(Page):
    items: list[Read]
