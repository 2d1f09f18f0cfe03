"""Membership changes: a member leaves the deployment (离开), or moves to another of its
branches (转接组织关系).

leave holds the leave use case and everything that ends with it; returning brings back a
member who transferred out (转回); transfer the transfer use case and the moves a roster
import records; meetings corrects who meetings expect; history
reads a member's moves and departure (the console, 我的数据) and recognises a departed member's
number (the roster import); find finds the member an operator names; base holds who may, the
day's checks and the reasons. The command line, the console and the API call the same two use
cases, for committee admins (and the operator at the command line).
"""

from handlers.membership.base import REASON_WORDS, reason_code
from handlers.membership.find import (
    Named,
    find_member,
    leave_named,
    return_named,
    transfer_named,
)
from handlers.membership.history import (
    CameBack,
    Departed,
    History,
    Left,
    PastMove,
    departed_numbers,
    membership_history,
)
from handlers.membership.leave import Leaving, leave_member
from handlers.membership.returning import (
    Returned,
    return_choices,
    return_member,
    return_status,
)
from handlers.membership.transfer import (
    Move,
    Transferred,
    record_moves,
    transfer_choices,
    transfer_member,
)
from models.membership import REASONS

__all__ = [
    "REASONS",
    "REASON_WORDS",
    "CameBack",
    "Departed",
    "History",
    "Leaving",
    "Left",
    "Move",
    "Named",
    "PastMove",
    "Returned",
    "Transferred",
    "departed_numbers",
    "find_member",
    "leave_member",
    "leave_named",
    "membership_history",
    "reason_code",
    "record_moves",
    "return_choices",
    "return_member",
    "return_named",
    "return_status",
    "transfer_choices",
    "transfer_member",
    "transfer_named",
]
