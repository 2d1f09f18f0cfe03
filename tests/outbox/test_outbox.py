"""The outbox against the fake over real HTTP: N1 (one row), N3 (backoff, dead, notice),
N4 (the robot's 20 a minute, 45009), subscribe credits, and drainers running at once."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bot.channels import ADAPTERS
from core.clock import utcnow
from core.config import ConfigError, OutboxSettings
from handlers import outbox
from handlers.outbox import DrainReport, drain
from models.base import db
from models.outbox import DEAD_NOTICE_KIND, OutboxMessage, SubscribeCredit
from models.wechat import RateEvent
from tests import factories as f
from tests.support.outbox import (
    ROBOT,
    SUBSCRIBE_ID,
    WEBHOOK,
    Env,
    SteppedClock,
    drain_at,
    fake_server,
    make_env,
    texts,
)
from tests.support.procs import ROOT, clean_env, python

START = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def robot_branch(key: str = ROBOT, name: str = "第一党支部", **flags: Any) -> Any:
    br = f.branch(name)
    outbox.set_branch_channel(br.id, "wecom_robot", key, utcnow(), **flags)
    return br


def put(br: Any, period: str, text: str | None = None, *, now: Any = None, **payload: Any) -> int:
    """Enqueue one group message and return its row id."""
    now = now or utcnow()
    outbox.enqueue(
        "study_prompt",
        "branch",
        br.id,
        period,
        {"text": text or f"今日学习 {period}", **payload},
        branch_id=br.id,
        now=now,
    )
    return OutboxMessage.get(OutboxMessage.period == period, OutboxMessage.target_id == br.id).id


def status_of(row_id: int) -> OutboxMessage:
    return OutboxMessage.get_by_id(row_id)


# ----- N1: producing the same reminder ten times at once makes one row ----------------------


def test_ten_threads_enqueueing_the_same_reminder_make_one_row(env: Env):
    br = f.branch()
    barrier = threading.Barrier(10)
    results: list[bool] = []
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            with env.app.app_context(), db.connection_context():  # its own connection
                barrier.wait(10)
                created = outbox.enqueue(
                    "meeting_reminder",
                    "branch",
                    br.id,
                    "meeting-7:24h",
                    {"text": "明天 15:00 支部党员大会"},
                    branch_id=br.id,
                    now=utcnow(),
                )
            results.append(created)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=produce) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sorted(results) == [False] * 9 + [True]
    assert OutboxMessage.select().count() == 1


def test_ten_processes_enqueueing_the_same_reminder_make_one_row(env: Env):
    f.branch()
    start_at = time.time() + 4.0  # every process imported and connected by then
    child_env = clean_env(ZHIBU_DATABASE__URL=env.db_url)
    procs = [
        subprocess.Popen(
            python("-m", "tests.support.outbox", "enqueue", str(start_at)),
            cwd=ROOT,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]  # a guard against a hang only
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in outputs]
    said = Counter(out.strip() for out, _ in outputs)
    assert said == {"created": 1, "exists": 9}
    assert OutboxMessage.select().count() == 1


def test_enqueue_many_inserts_in_bulk_and_ignores_existing_keys(env: Env, caplog):
    br = f.branch()
    members = [f.member(br=br) for _ in range(3)]
    now = utcnow()
    rows = [
        outbox.Outgoing("study_nudge", "member", m.id, "2026-03-02", {"text": "还没学习哦"}, br.id)
        for m in members
    ]
    assert outbox.enqueue_many(rows, now=now) == 3
    assert outbox.enqueue_many(rows + rows, now=now) == 0  # duplicates in one call too
    many = [
        {
            "kind": "study_nudge",
            "target_type": "member",
            "target_id": 10_000 + i,
            "period": "2026-03-03",
            "payload": {"text": "提醒"},
            "branch_id": br.id,
        }
        for i in range(4500)
    ]
    caplog.set_level(logging.DEBUG, logger="peewee")
    caplog.clear()
    assert outbox.enqueue_many(many, now=now) == 4500
    inserts = [r for r in caplog.records if r.name == "peewee" and "INSERT" in str(r.msg)]
    assert len(inserts) <= 3  # one rendered statement bound to every row, not one per row
    assert OutboxMessage.select().count() == 4503


def test_enqueue_refuses_malformed_messages(env: Env):
    br = f.branch()
    with pytest.raises(ValueError, match="text"):
        outbox.enqueue(
            "k", "branch", br.id, "p", {"title": "无正文"}, branch_id=br.id, now=utcnow()
        )
    with pytest.raises(ValueError, match="target_type"):
        outbox.enqueue("k", "group", br.id, "p", {"text": "x"}, branch_id=br.id, now=utcnow())
    with pytest.raises(ValueError, match="period"):
        outbox.enqueue("k", "branch", br.id, "", {"text": "x"}, branch_id=br.id, now=utcnow())
    assert OutboxMessage.select().count() == 0


# ----- claim -------------------------------------------------------------------------------


def test_claim_takes_due_rows_and_takes_over_only_stale_claims(env: Env):
    br = f.branch()
    now = utcnow()
    due = put(br, "due", now=now)
    put(br, "later", now=now + timedelta(minutes=5))
    claimed = outbox.claim(now, 10, env.settings)
    assert [r.id for r in claimed] == [due]
    assert claimed[0].status == "sending" and claimed[0].attempts == 1
    assert outbox.claim(now + timedelta(seconds=59), 10, env.settings) == []  # claim is fresh
    retaken = outbox.claim(now + timedelta(seconds=61), 10, env.settings)  # timeout 60 s
    assert [r.id for r in retaken] == [due] and retaken[0].attempts == 2
    # The first claimer's record no longer applies: the row is someone else's now.
    assert outbox.mark_sent(claimed[0], now) is False
    assert outbox.mark_sent(retaken[0], now) is True


# ----- N3: a channel that always fails ------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"http_status": 502},
        {"latency": 1.5},  # answers after the read timeout, set to 0.5 s below
        {"errcode": -1},
    ],
    ids=["5xx", "timeout", "errcode"],
)
def test_an_always_failing_channel_backs_off_with_jitter_then_dies_and_tells_the_secretary(
    env: Env, fake, fault
):
    br1 = robot_branch(ROBOT, "第一党支部")
    br2 = robot_branch(ROBOT + "-2", "第二党支部")  # two robots: two lanes failing together
    secretaries = {f.member("书记", br=b, roles="secretary").id for b in (br1, br2)}
    f.member("组织委员", br=br1, roles="organizer")
    env.settings.outbox.read_timeout_seconds = 0.5  # each timed-out attempt waits this
    fake.inject(WEBHOOK, times=None, **fault)
    first, second = put(br1, "a"), put(br2, "b")
    t = utcnow()
    gaps: dict[int, list[float]] = {first: [], second: []}
    for _ in range(10):
        drain_at(env.settings, t)
        rows = {i: status_of(i) for i in gaps}
        if all(r.status == "dead" for r in rows.values()):
            break
        for i, row in rows.items():
            if row.status == "pending":
                gaps[i].append((row.next_attempt_at - t).total_seconds())
        t = max(r.next_attempt_at for r in rows.values() if r.status == "pending")
    max_attempts = env.settings.outbox.max_attempts
    for i in gaps:
        row = status_of(i)
        assert row.status == "dead" and row.attempts == max_attempts
        assert row.last_error and ROBOT not in row.last_error
    # Exponential growth (base 10 s, factor 2) less up to 50 % jitter.
    for row_gaps in gaps.values():
        assert len(row_gaps) == max_attempts - 1
        assert all(b > a for a, b in zip(row_gaps, row_gaps[1:], strict=False)), row_gaps
        for n, gap in enumerate(row_gaps):
            assert 10 * 2**n * 0.5 <= gap <= 10 * 2**n + 3, (n, gap)
    # Jitter: two rows failing together do not retry in lockstep.
    assert max(abs(a - b) for a, b in zip(gaps[first], gaps[second], strict=True)) > 0.5
    # Every attempt reached the channel: max_attempts per row, no more.
    assert fake.calls[WEBHOOK] == 2 * max_attempts
    # Each branch's secretary (not the organizer) is told once per dead row, whatever runs next.
    drain_at(env.settings, t + timedelta(hours=1))
    notices = list(OutboxMessage.select().where(OutboxMessage.kind == DEAD_NOTICE_KIND))
    assert sorted(n.period for n in notices) == sorted([f"row-{first}", f"row-{second}"])
    assert {n.target_id for n in notices} == secretaries
    assert "没有发出去" in notices[0].data["text"]


def test_a_failing_row_holds_back_the_rest_of_its_robot_lane_in_order(env: Env, fake):
    br = robot_branch()
    rows = [put(br, f"p{i}", f"第{i}条") for i in range(3)]
    fake.inject(WEBHOOK, http_status=500, times=1)
    report = drain_at(env.settings)
    assert (report.failed, report.deferred, report.sent) == (1, 2, 0)
    held = [status_of(i) for i in rows]
    assert [r.attempts for r in held] == [1, 0, 0]
    assert len({r.next_attempt_at for r in held}) == 1  # all wait for the first one
    report = drain_at(env.settings, held[0].next_attempt_at)
    assert report.sent == 3
    assert texts(fake) == ["第0条", "第1条", "第2条"]


def test_a_dying_notice_does_not_beget_another(env: Env, fake):
    br = robot_branch()
    secretary = f.member("书记", br=br, roles="secretary")
    f.bound(secretary, "oSecretaryOpenid000001", app="oa")  # template channel
    fake.inject(WEBHOOK, errcode=93000, times=None)
    fake.inject("/cgi-bin/message/template/send", http_status=500, times=None)
    row = put(br, "x")
    t = utcnow()
    for _ in range(12):
        drain_at(env.settings, t)
        pending = list(OutboxMessage.select().where(OutboxMessage.status == "pending"))
        if not pending:
            break
        t = max(r.next_attempt_at for r in pending)
    rows = list(OutboxMessage.select().order_by(OutboxMessage.id))
    assert [(r.kind, r.status) for r in rows] == [
        ("study_prompt", "dead"),
        (DEAD_NOTICE_KIND, "dead"),
    ]
    assert rows[0].id == row and rows[0].attempts == 1  # 93000: dead at once
    assert rows[1].attempts == env.settings.outbox.max_attempts


def test_backoff_is_capped_and_the_jitter_stays_within_its_share(env: Env):
    import random

    rng = random.Random(7)
    waits = [outbox.backoff_seconds(n, env.settings, rng) for n in range(1, 30)]
    cap = env.settings.outbox.backoff_cap_seconds
    assert all(w <= cap for w in waits)
    assert max(waits) > cap / 2  # reached the cap
    assert len(set(waits)) == len(waits)  # jittered


# ----- N4: never more than 20 in any 60 s window per robot ---------------------------------


def windows_ok(times: list[float], limit: int = 20, window: float = 60.0) -> int:
    """Return the most messages found in any window (t - 60, t]."""
    times = sorted(times)
    return max(sum(1 for u in times if t - window < u <= t) for t in times)


@pytest.fixture
def stepped(db_url: str):
    """An app and a fake on one stepped clock (time moves only when the drain sleeps)."""
    with fake_server(START) as server:
        e = make_env(db_url, server, outbox={"drain_max_seconds": 3600.0})
        clock = SteppedClock(START, server)
        with e.app.app_context(), db.connection_context():
            yield e, clock
        if not db.is_closed():
            db.close()


def test_a_hundred_messages_to_one_robot_keep_to_20_a_minute(stepped):
    env, clock = stepped
    br = robot_branch()
    for i in range(100):
        put(br, f"p{i:03}", f"第{i}条", now=clock.now())
    report = drain(env.settings, ADAPTERS, clock=clock)
    accepted = env.fake.messages("robot", ROBOT)
    assert report.sent == 100 and len(accepted) == 100
    assert sorted(texts(env.fake)) == sorted(f"第{i}条" for i in range(100))
    assert windows_ok([m["at"] for m in accepted]) == 20
    assert env.fake.calls[WEBHOOK] == 100  # the fake never had to refuse one (no 45009)
    # As fast as the limit allows: 20 now, then 20 each minute.
    assert max(m["at"] for m in accepted) - START == pytest.approx(240, abs=1)
    assert OutboxMessage.select().where(OutboxMessage.status == "sent").count() == 100
    assert all(r.attempts == 1 for r in OutboxMessage.select())  # waiting is not an attempt


def test_a_rate_limit_refusal_rests_the_robot_and_loses_nothing(stepped):
    env, clock = stepped
    br = robot_branch()
    for i in range(30):
        put(br, f"p{i:03}", f"第{i}条", now=clock.now())
    recorded = {"n": 0}

    def hook(step: str, row: OutboxMessage) -> None:
        if step == "recorded":
            recorded["n"] += 1
            if recorded["n"] == 5:  # someone else used the robot: WeCom says 45009
                env.fake.inject(WEBHOOK, errcode=45009, errmsg="api freq out of limit")

    report = drain(env.settings, ADAPTERS, clock=clock, hook=hook)
    accepted = env.fake.messages("robot", ROBOT)
    assert report.sent == 30 and report.deferred >= 1
    assert sorted(texts(env.fake)) == sorted(f"第{i}条" for i in range(30))  # none twice
    times = sorted(m["at"] for m in accepted)
    assert times[4] == START and times[5] >= START + 60  # rested robot_backoff_seconds
    assert windows_ok(times) <= 20


def test_two_drainers_together_keep_one_robot_under_its_limit(db_url, fake):
    env = make_env(db_url, fake, outbox={"batch_size": 3})  # both drainers get rows
    with env.app.app_context(), db.connection_context():
        _two_drainers_one_robot(env, fake)


def _two_drainers_one_robot(env: Env, fake) -> None:
    br = robot_branch()
    for i in range(30):
        put(br, f"p{i:03}", f"第{i}条")
    reports: list[DrainReport] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        with env.app.app_context():
            barrier.wait(10)
            reports.append(drain_at(env.settings))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(fake.messages("robot", ROBOT)) == 20
    assert fake.calls[WEBHOOK] == 20  # never a 45009: the window is shared in the database
    assert sum(r.sent for r in reports) == 20
    waiting = OutboxMessage.select().where(OutboxMessage.status == "pending")
    assert waiting.count() == 10
    assert all(r.next_attempt_at > utcnow() + timedelta(seconds=50) for r in waiting)
    assert all(r.attempts == 0 for r in waiting)


# ----- drainers in parallel never send a row twice -----------------------------------------


def test_parallel_drainers_never_send_a_row_twice(env: Env, fake):
    keys = [f"demo-robot-{i:04}-parallel-key" for i in range(40)]
    rows = []
    for i, key in enumerate(keys):
        br = robot_branch(key, name=f"支部{i}")
        rows.append(put(br, "p", f"消息{i}"))
    for i in range(20):  # and members on template messages
        m = f.member(br=br)
        f.bound(m, f"oParallelOpenid{i:06}", app="oa")
        outbox.enqueue(
            "dues_personal", "member", m.id, "2026-03", {"text": f"个人{i}"},
            branch_id=br.id, now=utcnow(),
        )  # fmt: skip
    reports: list[DrainReport] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        with env.app.app_context():
            barrier.wait(10)
            reports.append(drain_at(env.settings))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    robot = Counter(m["target"] for m in fake.messages("robot"))
    assert robot == {key: 1 for key in keys}
    personal = Counter(m["body"]["data"]["keyword1"]["value"] for m in fake.messages("template"))
    assert personal == {f"个人{i}": 1 for i in range(20)}
    assert sum(r.sent for r in reports) == 60
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0


# ----- subscribe credits -------------------------------------------------------------------


def test_subscribe_one_credit_gives_one_send_and_none_gives_none(env: Env, fake):
    br = f.branch()
    m = f.member(br=br)
    openid = f.bound(m, "oMiniOpenid0000000001", app="mini")
    fake.add_subscribe_credit(openid, SUBSCRIBE_ID, 5)  # WeChat would take more than we have
    assert outbox.add_subscribe_credits(openid, SUBSCRIBE_ID, utcnow()) == 1
    for period in ("d1", "d2"):
        outbox.enqueue(
            "study_nudge", "member", m.id, period, {"text": "今天还没学习", "title": "学习督促"},
            branch_id=br.id, now=utcnow(),
        )  # fmt: skip
    report = drain_at(env.settings)
    assert (report.sent, report.skipped) == (1, 1)
    assert len(fake.messages("subscribe", openid)) == 1
    sent = fake.messages("subscribe", openid)[0]["body"]
    assert sent["miniprogram_state"] == "formal" and sent["lang"] == "zh_CN"
    assert sent["data"]["thing1"]["value"] == "学习督促"
    skipped = OutboxMessage.get(OutboxMessage.status == "skipped")
    assert "额度" in skipped.last_error
    assert SubscribeCredit.get(SubscribeCredit.openid == openid).credits == 0
    assert fake.subscribe_credits(openid, SUBSCRIBE_ID) == 4


def test_subscribe_credit_is_taken_once_per_row_however_often_it_is_retried(env: Env, fake):
    br = f.branch()
    m = f.member(br=br)
    openid = f.bound(m, "oMiniOpenid0000000002", app="mini")
    fake.add_subscribe_credit(openid, SUBSCRIBE_ID, 1)
    outbox.add_subscribe_credits(openid, SUBSCRIBE_ID, utcnow(), n=2)
    fake.inject("/cgi-bin/message/subscribe/send", http_status=503, times=2)
    outbox.enqueue("study_nudge", "member", m.id, "d", {"text": "学习"}, branch_id=br.id,
                   now=utcnow())  # fmt: skip
    t = utcnow()
    for _ in range(4):
        drain_at(env.settings, t)
        row = OutboxMessage.get()
        if row.status != "pending":
            break
        t = row.next_attempt_at
    assert row.status == "sent" and row.attempts == 3 and row.credit_spent
    assert SubscribeCredit.get().credits == 1  # one of our two credits, not three
    assert len(fake.messages("subscribe", openid)) == 1


def test_subscribe_43101_skips_the_row_and_forgets_our_count(env: Env, fake):
    br = f.branch()
    m = f.member(br=br)
    openid = f.bound(m, "oMiniOpenid0000000003", app="mini")
    outbox.add_subscribe_credits(openid, SUBSCRIBE_ID, utcnow(), n=3)  # WeChat has none
    outbox.enqueue("study_nudge", "member", m.id, "d", {"text": "学习"}, branch_id=br.id,
                   now=utcnow())  # fmt: skip
    report = drain_at(env.settings)
    assert report.skipped == 1 and report.dead == 0
    row = OutboxMessage.get()
    assert row.status == "skipped" and "43101" in row.last_error
    assert SubscribeCredit.get().credits == 0
    assert not OutboxMessage.select().where(OutboxMessage.kind == DEAD_NOTICE_KIND).exists()


def test_take_subscribe_credit_is_atomic_under_concurrency(env: Env):
    outbox.add_subscribe_credits("oRaceOpenid", SUBSCRIBE_ID, utcnow(), n=5)
    barrier = threading.Barrier(12)
    taken: list[bool] = []

    def take() -> None:
        with env.app.app_context(), db.connection_context():
            barrier.wait(10)
            taken.append(outbox.take_subscribe_credit("oRaceOpenid", SUBSCRIBE_ID, utcnow()))

    threads = [threading.Thread(target=take) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(taken) == [False] * 7 + [True] * 5
    assert SubscribeCredit.get().credits == 0


# ----- time budget, skips, housekeeping ----------------------------------------------------


def test_rows_not_reached_within_the_budget_go_back_without_an_attempt(stepped):
    env, clock = stepped
    br = robot_branch()
    for i in range(25):
        put(br, f"p{i:03}", now=clock.now())
    # the window frees only at 60 s
    report = drain(env.settings, ADAPTERS, clock=clock, max_seconds=30)
    assert report.sent == 20
    waiting = list(OutboxMessage.select().where(OutboxMessage.status == "pending"))
    assert len(waiting) == 5 and all(r.attempts == 0 for r in waiting)
    assert clock.slept == 0  # did not sleep past its budget
    report = drain(env.settings, ADAPTERS, clock=clock, max_seconds=120)
    assert report.sent == 5
    assert OutboxMessage.select().where(OutboxMessage.status == "sent").count() == 25


def test_branch_without_a_channel_and_member_without_one_are_skipped(env: Env, fake):
    br = f.branch()
    m = f.member(br=br)
    put(br, "g")
    outbox.enqueue("dues_personal", "member", m.id, "2026-03", {"text": "党费"},
                   branch_id=br.id, now=utcnow())  # fmt: skip
    report = drain_at(env.settings)
    assert report.skipped == 2 and report.dead == 0
    reasons = {r.target_type: r.last_error for r in OutboxMessage.select()}
    assert "群通知渠道" in reasons["branch"] and "个人通知渠道" in reasons["member"]
    assert fake.received == []


def test_old_rate_events_are_pruned(stepped):
    env, clock = stepped
    br = robot_branch()
    put(br, "a", now=clock.now())
    drain(env.settings, ADAPTERS, clock=clock)
    assert RateEvent.select().count() == 1
    clock.sleep(121)
    drain(env.settings, ADAPTERS, clock=clock)
    assert RateEvent.select().count() == 0


def test_dead_counts_per_branch(env: Env, fake):
    br = robot_branch("bad-key-not-demo-000001")  # the fake answers 93000
    put(br, "a")
    put(br, "b")
    drain_at(env.settings)
    assert outbox.dead_counts() == {br.id: 2}
    assert outbox.dead_counts([br.id + 1]) == {}


# ----- a stalled WeChat: a late answer is waited for, not taken for a failure --------------

STALL = 5.5  # seconds WeChat holds each answer: more than a 5 s stall
TEMPLATE_SEND = "/cgi-bin/message/template/send"


def test_a_5_second_stall_of_wechat_duplicates_no_message(db_url, fake):
    """WeChat accepts each message at once and answers only after the stall (the finding: a
    frozen WeChat got 4 template messages twice). With the default timeouts the drain waits
    for the late answer; a resend, and so a duplicate, needs a stall past the read timeout."""
    outbox_defaults = OutboxSettings().model_dump()
    defaults = {k: v for k, v in outbox_defaults.items() if k.endswith("timeout_seconds")}
    env = make_env(db_url, fake, outbox={**defaults, "concurrency": 8, "batch_size": 200})
    with env.app.app_context(), db.connection_context():
        keys, openids = [], []
        for i in range(60):  # template messages and robot messages, interleaved
            br = f.branch(f"支部{i}")
            m = f.member(br=br)
            openids.append(f.bound(m, f"oStallOpenid{i:08}", app="oa"))
            outbox.enqueue("dues_personal", "member", m.id, "2026-03", {"text": f"个人{i}"},
                           branch_id=br.id, now=utcnow())  # fmt: skip
            if i < 40:
                keys.append(f"demo-robot-{i:04}-stalled-key")
                outbox.set_branch_channel(br.id, "wecom_robot", keys[-1], utcnow())
                put(br, "p", f"群消息{i}")
        # The first sends of each kind (one per sender thread) meet the stall.
        fake.inject(TEMPLATE_SEND, hold=STALL, times=4)
        fake.inject(WEBHOOK, hold=STALL, times=4)
        t = utcnow()
        for _ in range(5):  # and whatever a timeout put back for a retry, sent as well
            drain_at(env.settings, t, max_seconds=60)
            pending = list(OutboxMessage.select().where(OutboxMessage.status == "pending"))
            if not pending:
                break
            t = max(r.next_attempt_at for r in pending)
        assert Counter(m["target"] for m in fake.messages("robot")) == {k: 1 for k in keys}
        assert Counter(m["target"] for m in fake.messages("template")) == {o: 1 for o in openids}
        rows = list(OutboxMessage.select())
        assert len(rows) == 100
        assert all(r.status == "sent" and r.attempts == 1 for r in rows), [
            (r.id, r.status, r.attempts, r.last_error) for r in rows if r.attempts != 1
        ]


def test_a_claim_timeout_shorter_than_the_longest_send_is_refused(db_url, fake):
    """Another drain takes over a claim older than claim_timeout_seconds: were that shorter than
    a send still waiting for WeChat's answer, the row would be sent twice."""
    timeouts = {"connect_timeout_seconds": 4.0, "read_timeout_seconds": 15.0}
    with pytest.raises(ConfigError) as caught:
        make_env(db_url, fake, outbox={**timeouts, "claim_timeout_seconds": 189})
    assert caught.value.key == "outbox.claim_timeout_seconds" and "190" in str(caught.value)
    env = make_env(db_url, fake, outbox={**timeouts, "claim_timeout_seconds": 190})
    assert env.settings.outbox.claim_timeout_seconds == 190
