"""Leaving (member leave) and transfers (member transfer) at the command line, as the operator
runs them: what ends, what stays, and that no job names a member who left."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers import development as dev
from handlers import rectification as rect
from handlers.console.access import issue_login_link, redeem_login_link
from handlers.console.members import member_record
from handlers.dues import record_payment
from handlers.errors import NotFound
from handlers.organization import record_term
from handlers.privacy import issue_export_link, member_data
from handlers.roster import RosterError, import_roster
from handlers.study import record_study
from models.api import ApiSession
from models.audit import AuditEntry
from models.base import db
from models.console import ConsoleLogin, ConsoleSession
from models.dues import DuesMonth, DuesPayment
from models.meetings import Attendance, MeetingAttendee
from models.membership import Departure, Transfer
from models.org import Member
from models.outbox import OutboxMessage
from models.privacy import ExportLink
from models.snapshots import BranchSnapshot
from models.study import StudyCheckin
from models.wechat import BindCode, WechatBinding
from scheduler import jobs
from tests import factories as f
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
SETUP = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
MON = datetime(2026, 12, 7, 20, 0, tzinfo=SH)  # the jobs run, then 张三 leaves at 21:00
TUE = datetime(2026, 12, 8, 20, 0, tzinfo=SH)  # the jobs run again
LONG_AGO = SETUP - timedelta(days=400)
# Every job that writes messages or figures; token_refresh and meeting_qr only call WeChat.
JOBS = [fn for name, fn in jobs.CRON_JOBS.items() if name not in ("token_refresh", "meeting_qr")]


@contextmanager
def at(app: Any, moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False), app.app_context(), db.connection_context():
        yield


def run(app: Any, *args: str, moment: datetime = MON + timedelta(hours=1)) -> Any:
    with time_machine.travel(moment, tick=False):
        return app.test_cli_runner().invoke(args=list(args))


def run_jobs(settings: Any, now: datetime) -> None:
    for job in JOBS:
        job(settings, now)


def to(member: Member) -> list[OutboxMessage]:
    return list(
        OutboxMessage.select()
        .where(OutboxMessage.target_type == "member", OutboxMessage.target_id == member.id)
        .order_by(OutboxMessage.id)
    )


def ledger() -> list[tuple[int, int, int]]:
    """Every payment with its amount and the sum of its months; it balances when they match."""
    return [
        (
            p.id,
            p.amount_fen,
            sum(m.amount_fen for m in DuesMonth.select().where(DuesMonth.payment == p.id)),
        )
        for p in DuesPayment.select().order_by(DuesPayment.id)
    ]


@pytest.fixture
def world(app: Any, settings: Any) -> dict[str, Any]:
    """Branch A with its secretary (and committee admin) 张三, who leaves; 李四, a member who
    stays; 王五, organizer and collector, who takes over the secretary's notes; an applicant;
    branch B with its secretary; everything the jobs read."""
    with at(app, SETUP):
        a, b = f.branch("第一党支部"), f.branch("第二党支部")
        f.group_channel(a, nudge_enabled=True, volunteer_enabled=True)
        old = {"created_at": LONG_AGO, "updated_at": LONG_AGO}  # out of touch for long
        zhang = f.member(
            "张三",
            a,
            roles="committee_admin,secretary",
            phone="13900000001",
            birth_date=date(1980, 1, 1),
            **old,
        )
        li = f.member("李四", a, phone="13900000002", **old)
        wang = f.member("王五", a, roles="dues_collector,organizer", phone="13900000003")
        admin = f.member("赵六", b, roles="committee_admin", phone="13900000004")
        secb = f.member("钱七", b, roles="secretary", phone="13900000005")
        applicant = f.member("孙八", a, status="applicant", phone="13900000006")
        for person in (zhang, li, wang):
            f.assess(person, base_fen=800000, from_month=date(2026, 1, 1))
        return {"a": a, "b": b, "zhang": zhang, "li": li, "wang": wang, "admin": admin,
                "secb": secb, "applicant": applicant}  # fmt: skip


def _records(app: Any, settings: Any, w: dict[str, Any]) -> None:
    """What the branch has on record before 张三 leaves, made through the use cases."""
    zhang, li, wang, a = w["zhang"], w["li"], w["wang"], w["a"]
    with at(app, SETUP):
        for month in (1, 2, 3):
            record_payment(
                wang, zhang, 12000, [date(2026, month, 1)], now=SETUP, settings=settings
            )
        record_payment(wang, li, 12000, [date(2026, 1, 1)], now=SETUP, settings=settings)
        record_study(zhang, "心得：张三的学习体会", now=SETUP, tz=SH, max_chars=500)
        record_study(li, "李四的体会", now=SETUP, tz=SH, max_chars=500)
        meet(a, "lesson", SETUP - timedelta(days=2), present=[zhang, li])
        for start in (MON + timedelta(hours=23), TUE + timedelta(hours=14)):
            meet(a, "lesson", start, present=[], absent=[zhang, li])
        record_term(wang, a.id, started_on=date(2024, 3, 1), now=SETUP, settings=settings)
        dev.record_step(
            wang, w["applicant"].id, "apply", on=date(2026, 11, 10), now=SETUP, settings=settings
        )
        for owner, deadline in ((zhang, 14), (zhang, 15), (li, 15)):
            rect.create_item(
                wang, a.id, kind="problem", source="self_check", problem="学习制度执行不严格",
                owner_id=owner.id, deadline=date(2026, 12, deadline), now=SETUP,
                settings=settings,
            )  # fmt: skip
        f.bound(zhang, "oa-zhang", app="oa")
        f.bound(zhang, "mini-zhang", app="mini")
        ApiSession.create(openid="mini-zhang", member=zhang, expires_at=MON + timedelta(days=7))
        link = issue_login_link(zhang, settings=settings, now=SETUP)
        redeem_login_link(link.token, settings=settings, now=SETUP)
        issue_login_link(zhang, settings=settings, now=SETUP)  # a link not used yet
        issue_export_link(zhang, settings=settings, now=SETUP)
        f.code_for(zhang, settings)


def test_after_member_leave_nothing_reaches_them_their_reflections_go_and_the_ledger_holds(
    app, settings, world
):
    w = world
    zhang, li, wang = w["zhang"], w["li"], w["wang"]
    _records(app, settings, w)
    with at(app, MON):
        run_jobs(settings, MON)  # 张三 is still here: the jobs speak to him
        before = {m.kind for m in to(zhang)}
        assert {"study_nudge", "dues_personal", "secretary_digest", "rectification_due",
                "term_due", "development_due", "monthly_report"} <= before  # fmt: skip
        books = ledger()
        snapshots = sorted(BranchSnapshot.select().tuples())
        attended = Attendance.select().where(Attendance.member == zhang.id).count()

    done = run(app, "member", "leave", "张三", "--reason", "转出", "--date", "2026-12-07")
    assert done.exit_code == 0, done.output
    assert "已办理离开：张三（第一党支部），转出，2026-12-07" in done.output

    with at(app, MON + timedelta(hours=1)):
        gone = Member.get_by_id(zhang.id)
        assert (gone.status, gone.roles, gone.birth_date) == ("left", "", None)
        assert gone.phone != "13900000001" and "13900000001" not in gone.phone
        assert {m.status for m in to(zhang)} == {"skipped"}  # nothing waiting goes out
        data = member_data(gone, settings=settings, now=MON + timedelta(hours=1)).as_json()
        assert data["checkins"] and all(c["reflection"] == "" for c in data["checkins"])
        assert "张三的学习体会" not in json.dumps(data, ensure_ascii=False)
        assert [(d["reason_label"], d["left_on"]) for d in data["departure"]] == [
            ("转出", "2026-12-07")
        ]
        assert ledger() == books and all(paid == months for _, paid, months in books)
        assert sorted(BranchSnapshot.select().tuples()) == snapshots
        assert Attendance.select().where(Attendance.member == zhang.id).count() == attended
        assert StudyCheckin.get(StudyCheckin.member == li.id).reflection == "李四的体会"
        sent_before = len(to(zhang))

    with at(app, TUE):
        run_jobs(settings, TUE)
        assert len(to(zhang)) == sent_before  # no job wrote anything more for him
        reminders = OutboxMessage.select().where(
            OutboxMessage.kind == "meeting_reminder", OutboxMessage.created_at >= TUE
        )
        assert reminders.count() == 1  # the meeting of Wednesday morning, expecting 李四 only
        assert [row.data["mention_member_ids"] for row in reminders] == [[li.id]]
        named = [m.data["text"] for m in OutboxMessage.select() if m.created_at >= TUE]
        assert named and not [text for text in named if "张三" in text]
        # The jobs did run: the member who stays and the new first manager hear from them.
        assert {"study_nudge", "rectification_due"} <= {
            m.kind for m in to(li) if m.created_at >= TUE
        }
        assert {"secretary_digest", "development_due"} <= {
            m.kind for m in to(wang) if m.created_at >= TUE
        }
        digest = next(m for m in to(wang) if m.kind == "secretary_digest")
        assert "六个月规定：李四" in digest.data["text"]  # it names people, not 张三


def test_leaving_ends_every_way_in_at_once(app, settings, world):
    zhang = world["zhang"]
    _records(app, settings, world)
    assert (
        run(app, "member", "leave", "张三", "--reason", "去世", "--date", "2026-12-06").exit_code
        == 0
    )
    with at(app, MON + timedelta(hours=1)):
        for model in (WechatBinding, BindCode, ConsoleLogin, ExportLink):
            assert not model.select().where(model.member == zhang.id).exists(), model
        assert not ApiSession.select().where(ApiSession.revoked_at.is_null()).exists()
        live = ConsoleSession.select().where(
            ConsoleSession.member == zhang.id, ConsoleSession.ended_at.is_null()
        )
        assert not live.exists()
        # Meetings ahead no longer expect him; the one he attended keeps his attendance.
        expected = MeetingAttendee.select().where(MeetingAttendee.member == zhang.id)
        assert expected.count() == 1
        (entry,) = AuditEntry.select().where(AuditEntry.action == "member.leave")
        assert entry.actor_name == "服务器操作员" and entry.target == f"member:{zhang.id}"
        assert "13900000001" not in entry.before + entry.after


def test_leaving_twice_is_refused_with_what_was_recorded(app, world):
    args = ("member", "leave", "张三", "--reason", "停止党籍", "--date", "2026-12-01")
    assert run(app, *args).exit_code == 0
    again = run(app, "member", "leave", "张三", "--reason", "转出", "--date", "2026-12-07")
    assert again.exit_code == 1
    assert "张三已于2026年12月1日办理离开（停止党籍），不能重复办理。" in again.output
    with at(app, MON):
        assert Departure.select().count() == 1


def test_a_name_in_two_branches_asks_for_the_branch(app, world):
    with at(app, SETUP):
        other = f.member("李四", world["b"], phone="13900000010")
    asked = run(app, "member", "leave", "李四", "--reason", "转出", "--date", "2026-12-07")
    assert asked.exit_code == 1
    assert "有 2 位“李四”（第一党支部、第二党支部），请指明支部或手机号" in asked.output
    assert "--branch" in asked.output and "--phone" in asked.output
    args = ("member", "leave", "李四", "--branch", "第二党支部", "--reason", "出党")
    assert run(app, *args, "--date", "2026-12-07").exit_code == 0
    with at(app, MON):
        assert Member.get_by_id(other.id).status == "left"
        assert Member.get_by_id(world["li"].id).status == "full"


@pytest.mark.parametrize(
    ("reason", "day", "says"),
    [
        ("退休", "2026-12-07", "离开原因“退休”无法识别，可填：转出、去世、出党、停止党籍"),
        ("转出", "2026-12-09", "离开日期 2026年12月9日 晚于今天"),
        ("转出", "2025-01-01", "离开日期应在最近 366 天内"),
        ("转出", "12/07", "离开日期“12/07”不是有效日期"),
    ],
)
def test_a_wrong_reason_or_day_is_refused_and_changes_nothing(app, world, reason, day, says):
    done = run(app, "member", "leave", "张三", "--reason", reason, "--date", day)
    assert done.exit_code == 1 and says in done.output
    with at(app, MON):
        assert Member.get_by_id(world["zhang"].id).status == "full"
        assert not Departure.select().exists()


def test_a_roster_import_does_not_bring_back_a_member_who_left(app, settings, world, tmp_path):
    run(app, "member", "leave", "李四", "--reason", "转出", "--date", "2026-12-07")
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "姓名,手机号,支部,党员状态\n李四,13900000002,第一党支部,正式党员\n王五,13900000003,第一党支部,正式党员\n",
        encoding="utf-8",
    )
    with at(app, TUE):
        with pytest.raises(RosterError) as refused:
            import_roster(roster, "测试党委", settings=settings)
        (error,) = refused.value.errors
        assert error.row_number == 2
        assert "李四已于2026-12-07离开（转出），导入名册不能恢复" in error.message
        assert Member.select().where(Member.name == "李四").count() == 1
    roster.write_text("姓名,手机号,支部,党员状态\n李四,13900000002,第一党支部,已离开\n")
    with at(app, TUE), pytest.raises(RosterError) as refused:
        import_roster(roster, "测试党委", settings=settings)
    assert "党员状态“已离开”无法识别" in refused.value.errors[0].message


def test_transfer_moves_the_member_with_their_records_and_records_the_move(app, settings, world):
    li, a, b = world["li"], world["a"], world["b"]
    _records(app, settings, world)
    done = run(app, "member", "transfer", "李四", "--to", "第二党支部", "--date", "2026-12-07")
    assert done.exit_code == 0, done.output
    assert "已转接组织关系：李四，第一党支部 → 第二党支部（2026-12-07）" in done.output
    with at(app, MON + timedelta(hours=1)):
        (move,) = Transfer.select()
        assert (move.from_branch_id, move.to_branch_id, move.moved_on, move.source) == (
            a.id, b.id, date(2026, 12, 7), "manual"
        )  # fmt: skip
        now = MON + timedelta(hours=1)
        seen = member_record(world["secb"], b.id, li.id, now=now, settings=settings)
        assert seen.week.total == 1  # the check-in of the first branch
        assert [s.my_state for s in seen.meetings if s.meeting.ends_at <= now] == ["present"]
        assert [(m.from_branch, m.to_branch) for m in seen.history.moves] == [
            ("第一党支部", "第二党支部")
        ]
        with pytest.raises(NotFound):
            member_record(world["wang"], a.id, li.id, now=now, settings=settings)
        # The first branch's meetings ahead no longer expect him (nor count him absent).
        ahead = MeetingAttendee.select().where(MeetingAttendee.member == li.id)
        assert ahead.count() == 1
    again = run(app, "member", "transfer", "李四", "--to", "第二党支部", "--date", "2026-12-07")
    assert again.exit_code == 1 and "李四已在第二党支部，无需转接" in again.output


def test_a_roster_import_that_moves_a_member_records_the_transfer(app, settings, world, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("姓名,手机号,支部\n李四,13900000002,第二党支部\n", encoding="utf-8")
    with at(app, MON):
        report = import_roster(roster, "测试党委", settings=settings)
        assert report.updated == 1
        (move,) = Transfer.select()
        assert (move.member_id, move.from_branch_id, move.to_branch_id) == (
            world["li"].id, world["a"].id, world["b"].id
        )  # fmt: skip
        assert (move.moved_on, move.source) == (date(2026, 12, 7), "roster")
