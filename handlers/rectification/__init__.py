"""Rectification lists (问题清单、任务清单、责任清单): items raised by a branch or its committee,
an owner and a deadline each, moving from 待整改 through 整改中 and 已完成 to 已验收, with notes.

The package re-exports its public names: ``from handlers import rectification`` and
``rectification.create_item(...)`` whichever module holds the use case.
"""

from handlers.rectification.alerts import (
    Awaiting,
    Due,
    Overdue,
    awaiting_verification,
    due_items,
    item_owners,
    long_overdue_counts,
    overdue_items,
)
from handlers.rectification.base import (
    OWNER_ROLES,
    can_change,
    can_manage,
    can_verify,
    day_text,
    deadline_state,
    describe,
    is_owner,
    short,
)
from handlers.rectification.items import change_item, create_item
from handlers.rectification.progress import (
    add_note,
    mark_done,
    mark_done_by_number,
    move_status,
    verify_item,
)
from handlers.rectification.views import (
    BranchCounts,
    Detail,
    ItemPage,
    ItemView,
    NoteView,
    Person,
    branch_items,
    committee_counts,
    committee_rectification,
    item_detail,
    my_items,
)

__all__ = [
    "Awaiting",
    "awaiting_verification",
    "item_owners",
    "OWNER_ROLES",
    "BranchCounts",
    "Detail",
    "Due",
    "ItemPage",
    "ItemView",
    "NoteView",
    "Overdue",
    "Person",
    "add_note",
    "branch_items",
    "can_change",
    "can_manage",
    "can_verify",
    "change_item",
    "committee_counts",
    "committee_rectification",
    "create_item",
    "day_text",
    "deadline_state",
    "describe",
    "due_items",
    "is_owner",
    "item_detail",
    "long_overdue_counts",
    "mark_done",
    "mark_done_by_number",
    "move_status",
    "my_items",
    "overdue_items",
    "short",
    "verify_item",
]
