"""Retention: the prune job blanks reflections past retention.reflection_years, cuts the text of
finished outbox messages past retention.outbox_payload_days (never of one still to be sent),
deletes dead sessions, codes, links and run records, in chunks, and says how many of each."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import utcnow
from handlers import housekeeping
from handlers.console.messages import send_again
from handlers.errors import Conflict
from models.base import commits
from models.jobs import JobRun
from models.outbox import PRUNED_PAYLOAD, PRUNED_TEXT, OutboxMessage
from models.privacy import ExportLink
from models.study import StudyCheckin
from models.wechat import BindCode
from scheduler.runner import Runner
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SH)
pytestmark = pytest.mark.clock(NOW)
TEXT = "张三同志，您 11 月的党费 12.00 元未交。"


def checkin(member, day: date, reflection: str, topic=None) -> StudyCheckin:
    at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=SH)
    return StudyCheckin.create(
        member=member,
        day=day,
        topic=topic,
        topic_key=topic.id if topic else 0,
        reflection=reflection,
        created_at=at,
        updated_at=at,
    )


def message(status: str, created_days: float, sent_days: float | None = None, **fields):
    now = utcnow()
    branch = fields.pop("branch", None) or f.branch()
    return OutboxMessage.create(
        kind=fields.pop("kind", "dues_personal"),
        target_type="member",
        target_id=fields.pop("target_id", 1),
        period=f"{status}-{created_days}-{sent_days}",
        branch=branch,
        payload=json.dumps(
            {"title": "党费提醒", "text": "张三同志，您 11 月的党费 12.00 元未交。"}
        ),
        status=status,
        attempts=fields.pop("attempts", 1),
        next_attempt_at=now,
        created_at=now - timedelta(days=created_days),
        sent_at=None if sent_days is None else now - timedelta(days=sent_days),
        **fields,
    )


def test_reflections_older_than_the_period_are_blanked_and_the_checkin_kept(conn, settings):
    m = f.member("张三")
    topic = f.topic(date(2023, 12, 6), "学习党章第一章")
    past = checkin(
        m, date(2023, 12, 6), "三年零一天前的心得", topic
    )  # 2026-12-07 less 3 years, 1 day
    inside = checkin(m, date(2023, 12, 7), "整三年前的心得")
    empty = checkin(m, date(2023, 1, 5), "")
    result = housekeeping.prune(utcnow(), settings)
    assert result.counts["study_checkin.reflection"] == 1
    kept = StudyCheckin.get_by_id(past.id)
    assert kept.reflection == ""
    assert (kept.member_id, kept.day, kept.topic_id, kept.topic_key) == (
        m.id,
        date(2023, 12, 6),
        topic.id,
        topic.id,
    )
    assert (kept.created_at, kept.updated_at, kept.source) == (
        past.created_at,
        past.updated_at,
        past.source,
    )
    assert StudyCheckin.get_by_id(inside.id).reflection == "整三年前的心得"
    assert StudyCheckin.get_by_id(empty.id).reflection == ""
    assert StudyCheckin.select().count() == 3
    assert housekeeping.prune(utcnow(), settings).counts["study_checkin.reflection"] == 0


def test_the_reflection_period_is_a_setting(conn, settings):
    m = f.member()
    checkin(m, date(2025, 12, 6), "一年零一天前")
    checkin(m, date(2025, 12, 7), "整一年前")
    settings.retention.reflection_years = 1
    assert housekeeping.prune(utcnow(), settings).counts["study_checkin.reflection"] == 1
    assert sorted(c.reflection for c in StudyCheckin.select()) == ["", "整一年前"]


def test_a_period_in_years_ends_on_28_february_from_a_29th():
    assert housekeeping.years_before(date(2028, 2, 29), 3) == date(2025, 2, 28)
    assert housekeeping.years_before(date(2028, 2, 29), 4) == date(2024, 2, 29)


def test_sent_texts_are_cut_after_90_days_and_messages_still_to_send_keep_theirs(conn, settings):
    now = utcnow()
    cut = {
        "sent": message("sent", 91, 91),
        "dead": message("dead", 91, attempts=6),
        "skipped": message("skipped", 120),
    }
    kept = {
        "sent_89": message("sent", 89, 89),
        "sent_late": message("sent", 92, 89),  # retried for days: 89 days since it went
        "dead_89": message("dead", 89, attempts=6),
        "pending": message("pending", 200, attempts=0),
        "retrying": message("pending", 150, attempts=3, last_error="连接超时"),
        "sending": message("sending", 100, claimed_at=now),
    }
    result = housekeeping.prune(now, settings)
    assert result.counts["outbox_message.payload"] == 3
    for before in cut.values():
        row = OutboxMessage.get_by_id(before.id)
        assert row.payload == PRUNED_PAYLOAD and row.data == {"text": PRUNED_TEXT}
        assert row.pruned_at == now
        assert (row.kind, row.target_type, row.target_id, row.period, row.status) == (
            before.kind,
            before.target_type,
            before.target_id,
            before.period,
            before.status,
        )
        assert (row.sent_at, row.created_at, row.attempts) == (
            before.sent_at,
            before.created_at,
            before.attempts,
        )
    for name, before in kept.items():
        row = OutboxMessage.get_by_id(before.id)
        assert (row.payload, row.pruned_at) == (before.payload, None), name
    assert OutboxMessage.select().count() == 9
    assert housekeeping.prune(now, settings).counts["outbox_message.payload"] == 0


def test_a_dead_message_whose_text_was_cut_cannot_be_sent_again(conn, settings):
    branch = f.branch()
    secretary = f.member("书记", branch, roles="secretary")
    old = message("dead", 91, attempts=6, branch=branch)
    recent = message("dead", 10, attempts=6, branch=branch)
    housekeeping.prune(utcnow(), settings)
    with pytest.raises(Conflict) as refused:
        send_again(secretary, branch.id, old.id, now=utcnow())
    assert refused.value.errcode == "message_pruned" and "保存期限" in refused.value.message
    assert OutboxMessage.get_by_id(old.id).status == "dead"
    send_again(secretary, branch.id, recent.id, now=utcnow())
    assert OutboxMessage.get_by_id(recent.id).status == "pending"


def _codes_links_runs(now: datetime) -> dict[str, tuple[set[int], set[int]]]:
    """Binding codes, download links and run records: per table, the ids to go and to stay."""
    m = f.member()

    def code(n, expires_days, used_days=None):
        return BindCode.create(
            code_hash=f"h{n}",
            member=m,
            created_at=now - timedelta(days=expires_days + 7),
            expires_at=now - timedelta(days=expires_days),
            used_at=None if used_days is None else now - timedelta(days=used_days),
        ).id

    def link(n, expires_days, used=False):
        expires = now - timedelta(days=expires_days)
        return ExportLink.create(
            token_hash=f"t{n}",
            member=m,
            created_at=expires - timedelta(minutes=10),
            expires_at=expires,
            used_at=expires - timedelta(minutes=5) if used else None,
        ).id

    def run(job, days):
        at = now - timedelta(days=days)
        return JobRun.create(job_id=job, tick=f"{job}-{days}", holder="h", started_at=at).id

    return {
        "bind_code": (
            {code(1, 91), code(2, 95, used_days=100)},
            {code(3, 89), code(4, -5), code(5, -5, used_days=1)},
        ),
        "export_link": ({link(1, 8), link(2, 7.5, used=True)}, {link(3, 6), link(4, -0.005)}),
        "job_run": (
            {run("outbox_drain", 31), run("outbox_drain", 40)},
            # the latest run of its job stays, however old: `jobs` shows it, catch-up reads it
            {run("outbox_drain", 1), run("monthly_report", 40)},
        ),
    }


MODELS = {"bind_code": BindCode, "export_link": ExportLink, "job_run": JobRun}


def test_codes_links_and_run_records_past_their_keep_are_deleted(conn, settings):
    now = utcnow()
    rows = _codes_links_runs(now)
    result = housekeeping.prune(now, settings)
    for kind, (gone, kept) in rows.items():
        assert result.counts[kind] == len(gone), kind
        assert {r.id for r in MODELS[kind].select()} == kept, kind


def test_work_goes_in_chunks_of_short_transactions(conn, settings, monkeypatch):
    monkeypatch.setattr(housekeeping, "CHUNK", 3)
    now = utcnow()
    m = f.member()
    for i in range(10):
        checkin(m, date(2022, 1, 3) + timedelta(days=i), f"心得{i}")
    for i in range(7):  # sent in one moment: chunks going along created_at meet a tie
        message("sent", 100, 100, target_id=i)
    rules = len(housekeeping.rules(now, settings))
    before = commits()
    result = housekeeping.prune(now, settings)
    assert result.counts["study_checkin.reflection"] == 10
    assert result.counts["outbox_message.payload"] == 7
    # 10 rows in chunks of 3 take 4 transactions, 7 rows take 3, every other rule 1.
    assert commits() - before == 4 + 3 + (rules - 2)
    assert not StudyCheckin.select().where(StudyCheckin.reflection != "").exists()


def test_a_dry_run_counts_and_changes_nothing(conn, settings):
    now = utcnow()
    checkin(f.member(), date(2022, 5, 6), "旧心得")
    sent = message("sent", 100, 100)
    rows = _codes_links_runs(now)
    result = housekeeping.prune(now, settings, dry_run=True)
    assert result.dry_run and result.counts["study_checkin.reflection"] == 1
    assert result.counts["outbox_message.payload"] == 1 and result.counts["bind_code"] == 2
    assert str(result).startswith("would delete ")
    assert "; would clear 1 study_checkin.reflection, 1 outbox_message.payload" in str(result)
    assert StudyCheckin.get().reflection == "旧心得"
    assert OutboxMessage.get_by_id(sent.id).pruned_at is None
    for kind, (gone, kept) in rows.items():
        assert MODELS[kind].select().count() == len(gone) + len(kept), kind


def test_the_prune_command_shows_each_kind_and_dry_run_changes_nothing(app, conn):
    checkin(f.member(), date(2022, 5, 6), "旧心得")
    message("sent", 100, 100)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1  study_checkin.reflection" in dry.output and "would clear" in dry.output
    assert "0  inbound_message" in dry.output and "would delete" in dry.output
    assert StudyCheckin.get().reflection == "旧心得"
    done = runner.invoke(args=["prune"])
    assert done.exit_code == 0, done.output
    assert "1  outbox_message.payload" in done.output and "cleared" in done.output
    assert StudyCheckin.get().reflection == ""


def test_the_scheduler_job_prunes_and_records_the_counts_of_each_kind(conn, settings):
    now = utcnow()
    checkin(f.member(), date(2023, 12, 6), "旧心得")
    message("sent", 91, 91)
    _codes_links_runs(now)
    assert Runner(settings, "test-holder").run_job("prune", now=now)
    run = JobRun.get(JobRun.job_id == "prune")
    assert run.ok, run.detail
    assert run.detail.startswith("deleted 0 inbound_message, 0 rate_event, 0 api_session,")
    assert "2 bind_code, 2 export_link, 2 job_run, 0 read_member, 0 read_entry;" in run.detail
    assert run.detail.endswith("cleared 1 study_checkin.reflection, 1 outbox_message.payload")
    assert StudyCheckin.get().reflection == ""
