"""Scheduled jobs: plain functions that decide who gets what, calling handlers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.channels import ADAPTERS
from bot.clients import (
    WeChatApiError,
    create_meeting_qr,
    official_client,
    refresh_official_token,
)
from core.clock import local_day, utcnow
from core.config import Settings
from handlers import housekeeping, meetings, pay, reminders
from handlers.assessment import store_last_month
from handlers.outbox import Outgoing, drain, enqueue_many
from handlers.reports.links import monthly_report_links
from handlers.snapshots import refresh_all
from models.meetings import Meeting

log = logging.getLogger(__name__)


def token_refresh(settings: Settings, now: datetime | None = None) -> str:
    """Keep the shared access token fresh, so request paths never fetch one themselves."""
    return "token valid until " + refresh_official_token(settings).isoformat()


def meeting_qr_codes(settings: Settings, now: datetime | None = None) -> list[tuple[Meeting, str]]:
    """Create sign-in QR codes for meetings starting within a day; return the failures.

    This runs outside any WeChat callback: the callback must never wait on a WeChat API call.
    """
    now = now or utcnow()
    client = official_client(settings)
    create = partial(create_meeting_qr, settings, client=client)
    failures = []
    for meeting in meetings.meetings_needing_qr(now, settings):
        try:
            meetings.make_qr(meeting, now, settings, create)
        except WeChatApiError as exc:
            log.warning("QR code for meeting %s failed: %s", meeting.id, exc)
            failures.append((meeting, str(exc)))
    return failures


def _enqueue(rows: list[Outgoing], now: datetime) -> str:
    created = enqueue_many(rows, now=now)
    return f"{created} new of {len(rows)} message(s)"


def study_prompt(settings: Settings, now: datetime) -> str:
    """Today's topic to each branch group."""
    return _enqueue(reminders.study_prompts(now, settings), now)


def study_nudge(settings: Settings, now: datetime) -> str:
    """The evening nudge to members who have not checked in, where branches want it."""
    return _enqueue(reminders.study_nudges(now, settings), now)


def study_summary(settings: Settings, now: datetime) -> str:
    """The week's study rates per branch."""
    return _enqueue(reminders.study_summaries(now, settings), now)


def meeting_reminders(settings: Settings, now: datetime) -> str:
    """Reminders 24 h and 1 h before meetings, and the summaries after them."""
    rows = reminders.meeting_reminders(now, settings) + reminders.meeting_summaries(now, settings)
    return _enqueue(rows, now)


def dues_reminder(settings: Settings, now: datetime) -> str:
    """The monthly dues reminder to groups and members who owe."""
    return _enqueue(reminders.dues_reminders(now, settings), now)


def secretary_digest(settings: Settings, now: datetime) -> str:
    """The daily digest to each secretary, and to each committee admin, with something to act
    on."""
    rows = reminders.secretary_digests(now, settings) + reminders.committee_digests(now, settings)
    return _enqueue(rows, now)


def rectification_reminders(settings: Settings, now: datetime) -> str:
    """A note to the owner of each rectification item due in 7 days or tomorrow."""
    return _enqueue(reminders.rectification_reminders(now, settings), now)


def term_reminders(settings: Settings, now: datetime) -> str:
    """A note to each branch committee whose term ends within 6 months, then 3."""
    return _enqueue(reminders.term_reminders(now, settings), now)


def development_reminders(settings: Settings, now: datetime) -> str:
    """A note to each branch secretary of development deadlines ahead."""
    return _enqueue(reminders.development_reminders(now, settings), now)


def volunteer_prompt(settings: Settings, now: datetime) -> str:
    """Saturday's volunteer-service prompt where branches turned it on."""
    return _enqueue(reminders.volunteer_prompts(now, settings), now)


def prune(settings: Settings, now: datetime) -> str:
    """Keep only what is needed: drop rows past their use, clear old reflections and texts."""
    return str(housekeeping.prune(now, settings))


def outbox_drain(settings: Settings, now: datetime) -> str:
    """Send what the jobs queued, paced to each channel's limits."""
    return str(drain(settings, ADAPTERS, now))  # bounded by outbox.drain_max_seconds


def branch_snapshots(settings: Settings, now: datetime) -> str:
    """Each branch's headline figures, stored for the committee comparison."""
    return f"{refresh_all(now, settings)} branches"


def monthly_report(settings: Settings, now: datetime) -> str:
    """Last month's report link to every committee admin (the 1st)."""
    return _enqueue(monthly_report_links(now, settings), now)


def assessment_month(settings: Settings, now: datetime) -> str:
    """Last month's branch assessment figures, judged and stored for every committee (the
    1st)."""
    return f"{store_last_month(now, settings)} branch-months"


def pay_query(settings: Settings, now: datetime) -> str:
    """WeChat Pay orders and refunds whose notification has not come: paid ones booked (and
    confirmed to the member), closed ones closed here, refunds done booked as reversals."""
    return _counts(pay.query_open_orders(now, settings) + pay.query_open_refunds(now, settings))


def pay_close(settings: Settings, now: datetime) -> str:
    """WeChat Pay orders still unpaid after pay.close_after_minutes, closed."""
    return _counts(pay.close_stale_orders(now, settings))


def pay_reconcile(settings: Settings, now: datetime) -> str:
    """Yesterday's WeChat Pay trade bill against the ledger; differences for the digests."""
    if not pay.pay_enabled(settings):
        return "nothing to do"
    day = local_day(now, ZoneInfo(settings.app.timezone)) - timedelta(days=1)
    done = pay.reconcile_day(day, now=now, settings=settings)
    return (
        f"{day}: {done.payments} payments, {done.refunds} refunds, {done.matched} matched, "
        f"{len(done.new)} new differences, {done.resolved} resolved"
    )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "nothing to do"


# Job id → function. Cron strings come from [scheduler] under the same id.
CRON_JOBS = {
    "token_refresh": token_refresh,
    "meeting_qr": meeting_qr_codes,
    "study_prompt": study_prompt,
    "study_nudge": study_nudge,
    "study_summary": study_summary,
    "meeting_reminders": meeting_reminders,
    "dues_reminder": dues_reminder,
    "secretary_digest": secretary_digest,
    "rectification_reminders": rectification_reminders,
    "term_reminders": term_reminders,
    "development_reminders": development_reminders,
    "volunteer_prompt": volunteer_prompt,
    "branch_snapshots": branch_snapshots,
    "monthly_report": monthly_report,
    "assessment_month": assessment_month,
    "pay_query": pay_query,
    "pay_close": pay_close,
    "pay_reconcile": pay_reconcile,
    "prune": prune,
}
# Job id → (the [scheduler] key holding its interval in seconds, function).
INTERVAL_JOBS = {
    "outbox_drain": ("outbox_drain_seconds", outbox_drain),
}
