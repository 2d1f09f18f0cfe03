"""The console's messages page: what was sent, sending again, and the group channel."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from core.clock import utcnow
from handlers.console.messages import STATUS_LABELS, branch_messages, send_again, set_channel
from handlers.errors import Invalid
from models.outbox import GROUP_KINDS, PERSONAL_KINDS
from web.common import bp, nav_item, page, user

nav_item(60, "消息", "console.messages")
PER_PAGE = 50


def _render(branch_id: int, *, error: str = "", form: dict | None = None, status: int = 200):
    args = request.args
    shown = args.get("status") or None
    offset = max(args.get("offset", 0, type=int) or 0, 0)
    view = branch_messages(user().member, branch_id, status=shown, limit=PER_PAGE, offset=offset)
    channel = view.channel
    values = form or {
        "kind": channel.kind if channel else "wecom_robot",
        "mention": channel.mention if channel else True,
        "nudge": channel.nudge_enabled if channel else False,
        "volunteer": channel.volunteer_enabled if channel else False,
    }
    return page(
        "messages.html",
        status,
        view=view,
        shown=shown or "",
        offset=offset,
        per_page=PER_PAGE,
        labels=STATUS_LABELS,
        kinds=GROUP_KINDS,
        channel_labels={**GROUP_KINDS, **PERSONAL_KINDS},
        form=values,
        error=error,
    )


@bp.get("/branch/<int:branch_id>/messages")
def messages(branch_id: int) -> Any:
    return _render(branch_id)


@bp.post("/branch/<int:branch_id>/messages/<int:message_id>/again")
def messages_again(branch_id: int, message_id: int) -> Any:
    send_again(user().member, branch_id, message_id, now=utcnow())
    return redirect(url_for("console.messages", branch_id=branch_id, status="dead"), 303)


@bp.post("/branch/<int:branch_id>/messages/channel")
def messages_channel(branch_id: int) -> Any:
    form = request.form
    values = {
        "kind": form.get("kind", ""),
        "mention": form.get("mention") == "on",
        "nudge": form.get("nudge") == "on",
        "volunteer": form.get("volunteer") == "on",
    }
    try:
        set_channel(
            user().member,
            branch_id,
            kind=values["kind"],
            target=form.get("target", ""),
            mention=values["mention"],
            nudge=values["nudge"],
            volunteer=values["volunteer"],
            now=utcnow(),
        )
    except Invalid as exc:
        return _render(branch_id, error=exc.message, form=values, status=400)
    return redirect(url_for("console.messages", branch_id=branch_id, saved=1), 303)
