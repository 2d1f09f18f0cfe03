"""A member who transferred out comes back (member return, 转回): on the roll again under
their own name and records, the departure kept in the history, and what cannot come back
refused in words that say why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers.dues import record_payment
from handlers.membership import membership_history, return_member
from handlers.privacy import member_data
from handlers.roster import RosterError, import_roster
from handlers.study import record_study
from models.audit import AuditEntry
from models.base import db
from models.dues import DuesPayment
from models.meetings import MeetingAttendee
from models.membership import Departure, MemberReturn
from models.org import Member
from models.study import StudyCheckin
from tests import factories as f
from tests.support.meetings import meet

SH = ZoneInfo("Asia/Shanghai")
SETUP = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
LATER = datetime(2026, 12, 8, 10, 0, tzinfo=SH)


@contextmanager
def at(app: Any, moment: datetime) -> Iterator[None]:
    with time_machine.travel(moment, tick=False), app.app_context(), db.connection_context():
        yield


def run(app: Any, *args: str, moment: datetime = LATER) -> Any:
    with time_machine.travel(moment, tick=False):
        return app.test_cli_runner().invoke(args=list(args))


@pytest.fixture
def world(app: Any, settings: Any) -> dict[str, Any]:
    """Branches A and B; 李四 of A with a payment and a check-in, who transfers out on 12-03;
    王五, collector of A; a lesson of B ahead."""
    with at(app, SETUP):
        a, b = f.branch("第一党支部"), f.branch("第二党支部")
        li = f.member("李四", a, phone="13900000002")
        wang = f.member("王五", a, roles="dues_collector", phone="13900000003")
        f.assess(li, base_fen=800000, from_month=date(2026, 1, 1))
        record_payment(wang, li, 12000, [date(2026, 1, 1)], now=SETUP, settings=settings)
        record_study(li, "李四的体会", now=SETUP, tz=SH, max_chars=500)
        lesson = meet(b, "lesson", LATER + timedelta(days=3), present=[])
    done = run(app, "member", "leave", "李四", "--reason", "转出", "--date", "2026-12-03")
    assert done.exit_code == 0, done.output
    return {"a": a, "b": b, "li": li, "wang": wang, "lesson": lesson}


def test_a_member_who_transferred_out_comes_back_under_their_own_name(app, settings, world):
    li, a, b = world["li"], world["a"], world["b"]
    done = run(
        app, "member", "return", "李四", "--phone", "139 0000 0012", "--date", "2026-12-07",
        "--status", "预备党员", "--to", "第二党支部",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert (
        "已办理转回：李四（预备党员），转回第二党支部（2026-12-07；2026-12-03从第一党支部转出）"
        in (done.output)
    )
    with at(app, LATER):
        back = Member.get_by_id(li.id)
        assert (back.status, back.phone, back.branch_id, back.roles) == (
            "probationary", "13900000012", b.id, ""
        )  # fmt: skip
        assert not Departure.select().exists()  # they may leave again one day
        (row,) = MemberReturn.select()
        assert (row.left_reason, row.left_on, row.left_branch_id) == (
            "transfer_out", date(2026, 12, 3), a.id
        )  # fmt: skip
        assert (row.returned_on, row.to_branch_id, row.recorded_by_id) == (
            date(2026, 12, 7), b.id, None
        )  # fmt: skip
        # their records are theirs still; the meeting ahead in their new branch expects them
        assert DuesPayment.select().where(DuesPayment.member == li.id).count() == 1
        assert StudyCheckin.select().where(StudyCheckin.member == li.id).count() == 1
        assert MeetingAttendee.get_or_none(
            MeetingAttendee.meeting == world["lesson"].id, MeetingAttendee.member == li.id
        )
        history = membership_history(li.id)
        assert history.departure is None
        (came,) = history.returns
        assert (came.left_on, came.left_reason_label, came.left_branch) == (
            date(2026, 12, 3), "转出", "第一党支部"
        )  # fmt: skip
        assert (came.returned_on, came.to_branch) == (date(2026, 12, 7), "第二党支部")
        data = member_data(back, settings=settings, now=LATER).as_json()  # 我的数据
        assert data["departure"] == []
        assert [
            (r["left_on"], r["returned_on"], r["to_branch_name"]) for r in data["returns"]
        ] == [("2026-12-03", "2026-12-07", "第二党支部")]
        entry = AuditEntry.get(AuditEntry.action == "member.return")
        assert "办理转回：李四（预备党员），转回第二党支部" in entry.summary
    again = run(app, "member", "leave", "李四", "--reason", "转出", "--date", "2026-12-08")
    assert again.exit_code == 0, again.output


def test_by_default_they_come_back_to_the_branch_they_left_as_full_members(app, world):
    done = run(app, "member", "return", "李四", "--phone", "13900000012", "--date", "2026-12-07")
    assert done.exit_code == 0, done.output
    with at(app, LATER):
        back = Member.get_by_id(world["li"].id)
        assert (back.status, back.branch_id) == ("full", world["a"].id)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--phone", "13900000003"], "手机号 139****0003 已是王五的号码"),
        (["--phone", "1390000"], "手机号“1390000”不是11位手机号"),
        (["--phone", "13900000012", "--status", "积极分子"], "党员类别“积极分子”无法识别"),
        (["--phone", "13900000012", "--to", "第九党支部"], "没有名为“第九党支部”的支部"),
    ],
)
def test_a_wrong_number_status_or_branch_is_refused_and_changes_nothing(app, world, args, says):
    done = run(app, "member", "return", "李四", "--date", "2026-12-07", *args)
    assert done.exit_code == 1 and says in done.output, done.output
    with at(app, LATER):
        assert Member.get_by_id(world["li"].id).status == "left"
        assert Departure.select().count() == 1
        assert not MemberReturn.select().exists()


def test_a_day_before_leaving_or_ahead_is_refused(app, world):
    early = run(app, "member", "return", "李四", "--phone", "13900000012", "--date", "2026-12-02")
    assert early.exit_code == 1
    assert "转回日期 2026年12月2日 早于离开日期 2026年12月3日" in early.output
    ahead = run(app, "member", "return", "李四", "--phone", "13900000012", "--date", "2026-12-09")
    assert ahead.exit_code == 1 and "转回日期 2026年12月9日 晚于今天" in ahead.output


def test_only_a_transfer_out_comes_back(app, settings, world):
    with at(app, SETUP):
        gone = f.member("周九", world["a"], phone="13900000009")
        on_roll = f.member("吴十", world["a"], phone="13900000010")
    run(app, "member", "leave", "周九", "--reason", "去世", "--date", "2026-12-04")
    died = run(app, "member", "return", "周九", "--phone", "13900000019", "--date", "2026-12-07")
    assert died.exit_code == 1 and "周九已于2026年12月4日去世，不能办理转回" in died.output
    with at(app, LATER):
        with pytest.raises(Exception, match="没有离开，无需办理转回"):
            return_member(
                None,
                on_roll.id,
                phone="13900000020",
                returned_on=date(2026, 12, 7),
                now=LATER,
                settings=settings,
            )
        assert Member.get_by_id(gone.id).status == "left"
    stopped = run(app, "member", "leave", "吴十", "--reason", "停止党籍", "--date", "2026-12-05")
    assert stopped.exit_code == 0
    refused = run(
        app, "member", "return", "吴十", "--phone", "13900000021", "--date", "2026-12-07"
    )
    assert refused.exit_code == 1
    assert "因停止党籍离开，不能办理转回：恢复党员身份须按党章和有关规定另行办理" in refused.output


def test_only_members_who_left_are_found_by_name(app, world):
    done = run(app, "member", "return", "王五", "--phone", "13900000012", "--date", "2026-12-07")
    assert done.exit_code == 1 and "名册中没有名为“王五”的已离开的党员" in done.output


def test_the_roster_import_points_a_returning_member_to_member_return(
    app, settings, world, tmp_path
):
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "姓名,手机号,支部,党员状态\n李四,13900000002,第一党支部,正式党员\n", encoding="utf-8"
    )
    with at(app, LATER), pytest.raises(RosterError) as refused:
        import_roster(roster, "测试党委", settings=settings)
    (error,) = refused.value.errors
    assert "李四已于2026-12-03离开（转出），导入名册不能恢复。" in error.message
    assert "请先办理转回（控制台党员页“办理转回”，或命令行 member return）" in error.message
    done = run(app, "member", "return", "李四", "--phone", "13900000002", "--date", "2026-12-07")
    assert done.exit_code == 0, done.output
    with at(app, LATER):  # on the roll again with that number: the same row now matches them
        import_roster(roster, "测试党委", settings=settings)
        assert Member.select().where(Member.name == "李四").count() == 1
        assert Member.get(Member.name == "李四").status == "full"


def test_the_number_they_had_before_is_refused_while_they_use_another(
    app, settings, world, tmp_path
):
    done = run(app, "member", "return", "李四", "--phone", "13900000012", "--date", "2026-12-07")
    assert done.exit_code == 0, done.output
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "姓名,手机号,支部,党员状态\n李四,13900000002,第一党支部,正式党员\n", encoding="utf-8"
    )
    with at(app, LATER), pytest.raises(RosterError) as refused:
        import_roster(roster, "测试党委", settings=settings)
    (error,) = refused.value.errors
    assert "手机号“13900000002”是党员李四转出前的号码；李四已于2026-12-07转回，现用其他号码" in (
        error.message
    )
    with at(app, LATER):
        assert Member.select().where(Member.name == "李四").count() == 1
    # after leaving again, the old number is refused as a departed member's
    again = run(app, "member", "leave", "李四", "--reason", "去世", "--date", "2026-12-08")
    assert again.exit_code == 0, again.output
    with at(app, LATER + timedelta(hours=1)), pytest.raises(RosterError) as refused:
        import_roster(roster, "测试党委", settings=settings)
    (error,) = refused.value.errors
    assert "李四已于2026-12-08离开（去世），导入名册不能恢复。请从名册中删除这一行" in (
        error.message
    )
