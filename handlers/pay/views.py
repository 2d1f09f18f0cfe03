"""What the console shows of WeChat Pay: a branch's orders with their refunds, the bill's open
differences, and which ledger entries were paid with WeChat Pay (their 退款 action)."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.branches import branch_acted_for
from handlers.dues import DUES_ROLES, hidden
from models.org import Branch, Member
from models.pay import PayDifference, PayOrder, PayRefund


@dataclass(frozen=True)
class BranchOrders:
    """A page of a branch's orders (newest first), each order's latest refund, the names."""

    branch: Branch
    orders: list[PayOrder]
    total: int
    refunds: dict[int, PayRefund] = field(default_factory=dict)  # order id → latest refund
    names: dict[int, str] = field(default_factory=dict)
    differences: list[PayDifference] = field(default_factory=list)  # open ones


def _latest_refunds(order_ids: list[int]) -> dict[int, PayRefund]:
    found: dict[int, PayRefund] = {}
    query = PayRefund.select().where(PayRefund.order.in_(order_ids)).order_by(PayRefund.id)
    for refund in query:
        found[refund.order_id] = refund  # the latest wins
    return found


def branch_orders(actor: Member, branch_id: int, *, limit: int, offset: int) -> BranchOrders:
    """微信支付订单: the branch's orders for its collectors, newest first."""
    branch = branch_acted_for(actor, branch_id, DUES_ROLES)
    query = (
        PayOrder.select(PayOrder)
        .join(Member, on=PayOrder.member == Member.id)
        .where(Member.branch == branch.id)
    )
    total = query.count()
    orders = list(
        query.order_by(PayOrder.created_at.desc(), PayOrder.id.desc()).limit(limit).offset(offset)
    )
    ids = {o.member_id for o in orders}
    names = dict(Member.select(Member.id, Member.name).where(Member.id.in_(ids)).tuples())
    return BranchOrders(
        branch,
        orders,
        total,
        _latest_refunds([o.id for o in orders]),
        names,
        open_differences({branch.id}),
    )


def order_in_branch(actor: Member, branch_id: int, order_id: int) -> tuple[Branch, PayOrder]:
    """One order of the branch, for its collectors (any other is hidden)."""
    branch = branch_acted_for(actor, branch_id, DUES_ROLES)
    order = (
        PayOrder.select(PayOrder)
        .join(Member, on=PayOrder.member == Member.id)
        .where(PayOrder.id == order_id, Member.branch == branch.id)
        .first()
    )
    if order is None:
        raise hidden()
    return branch, order


def wxpay_orders(payment_ids: list[int]) -> dict[int, int]:
    """Ledger entry id → its WeChat Pay order's id, for entries paid with WeChat Pay."""
    query = PayOrder.select(PayOrder.payment, PayOrder.id).where(PayOrder.payment.in_(payment_ids))
    return dict(query.tuples())


def open_differences(branch_ids: set[int] | None) -> list[PayDifference]:
    """Differences of the trade bill still open (of these branches, or all), oldest first."""
    query = PayDifference.select().where(PayDifference.resolved_at.is_null())
    if branch_ids is not None:
        query = query.where(PayDifference.branch.in_(list(branch_ids)))
    return list(query.order_by(PayDifference.day, PayDifference.id))


def order_member(order: PayOrder) -> Member:
    return Member.get_by_id(order.member_id)
