"""The outbox: jobs enqueue messages once per key; the drain claims, paces and records them.

Jobs never send. They call ``enqueue`` / ``enqueue_many``; the unique index on
(kind, target_type, target_id, period) makes a second production of the same reminder a no-op.
The drain (``drain``) then works through the rows, sending each through the channel adapter
its starter hands it (``bot.channels.ADAPTERS``):

    claim -> resolve_addresses -> begin_part -> (the adapter posts) -> record_part / mark_sent
                                               \\-> mark_failed | defer | skip

Every state change is one short write transaction, and every record after a send is
conditional on the claim (``claimed_at``) still being ours, so:

- a crash after ``claim`` leaves the row ``sending``; once ``claim_timeout_seconds`` pass, the
  next drain takes it over and sends it (nothing lost, nothing sent twice);
- a crash between the channel's answer and the record sends that part again, once, when the
  row is taken over (WeChat has no idempotency key for these messages);
- a crash after the record loses nothing and repeats nothing.

Delivery is therefore at least once. Besides such a crash, a duplicate needs a read timeout
after WeChat accepted the message (its answer lost, the send retried); the read timeout
(``read_timeout_seconds``) outlasts WeChat's stalls, and the claim outlasts the longest send
(core.config checks ``claim_timeout_seconds``), so no other drain takes over a row that is
still waiting for its answer.

Payload (a JSON object) fields the channels read:

- ``text`` (required): the message, plain text (or markdown with ``format``);
- ``title``: a short title, used by template/subscribe messages and the secretary's notices;
- ``format``: ``"text"`` (default) or ``"markdown"`` (group robots and WeCom apps);
- ``mention_member_ids``: members to @-mention in a group (by WeCom userid, else by mobile);
- ``mention_all``: @all in a group robot text;
- ``url``: a link for template messages; ``page``: a mini-program page for subscribe messages;
- ``template_data`` / ``subscribe_data``: explicit template data, overriding the defaults.

The package, one module per concern:

- ``intake``: ``enqueue`` / ``enqueue_many`` (checked rows, bulk insert);
- ``states``: claim, sent, retry schedule (``backoff_seconds``), dead, deferred, skipped;
- ``notices``: the secretary's notice about a dead row;
- ``routing``: which channel and address reach a branch's group or a member;
- ``pacing``: claim renewal, robots' rate windows, subscribe credits, per part;
- ``adapters``: what the drain asks of a channel adapter, and ``ChannelError``;
- ``drainer``: ``drain``, the loop that claims, routes, sends and records;
- ``contacts``: subscribe credits, branch channels, WeCom userids, dead counts;
- ``listing``: the operator's lists of messages, rows by status, branches' group channels.

No Flask and no wechatpy here: plain arguments in, rows and plain results out; the adapters
that speak HTTP are handed in.
"""

from handlers.outbox.adapters import Adapter, Adapters, ChannelError, build_adapter
from handlers.outbox.contacts import (
    ChannelChoice,
    WecomAccount,
    add_subscribe_credits,
    dead_counts,
    set_branch_channel,
    set_channel_of_branch,
    set_wecom_userid,
    set_wecom_userid_by_phone,
    take_subscribe_credit,
)
from handlers.outbox.drainer import Clock, DrainReport, Hook, drain
from handlers.outbox.intake import INSERT_CHUNK, Outgoing, enqueue, enqueue_many
from handlers.outbox.listing import group_channels, outbox_messages, status_counts
from handlers.outbox.notices import KIND_LABELS, NOTICE_ROLES, notice_recipient
from handlers.outbox.pacing import Grant, begin_part, prune_rate_events, rest_bucket
from handlers.outbox.routing import (
    NO_CREDIT,
    NO_GROUP_CHANNEL,
    NO_PERSONAL_CHANNEL,
    Address,
    Skip,
    resolve_addresses,
    robot_bucket,
)
from handlers.outbox.states import (
    backoff_seconds,
    claim,
    defer,
    forget_credits,
    mark_failed,
    mark_sent,
    next_due,
    record_part,
    skip,
)

__all__ = [
    "INSERT_CHUNK",
    "KIND_LABELS",
    "NO_CREDIT",
    "NO_GROUP_CHANNEL",
    "NO_PERSONAL_CHANNEL",
    "NOTICE_ROLES",
    "Adapter",
    "Adapters",
    "Address",
    "ChannelChoice",
    "ChannelError",
    "Clock",
    "DrainReport",
    "Grant",
    "Hook",
    "Outgoing",
    "Skip",
    "WecomAccount",
    "add_subscribe_credits",
    "backoff_seconds",
    "begin_part",
    "build_adapter",
    "claim",
    "dead_counts",
    "defer",
    "drain",
    "enqueue",
    "enqueue_many",
    "forget_credits",
    "group_channels",
    "mark_failed",
    "mark_sent",
    "next_due",
    "notice_recipient",
    "outbox_messages",
    "prune_rate_events",
    "record_part",
    "resolve_addresses",
    "rest_bucket",
    "robot_bucket",
    "set_branch_channel",
    "set_channel_of_branch",
    "set_wecom_userid",
    "set_wecom_userid_by_phone",
    "skip",
    "status_counts",
    "take_subscribe_credit",
]
