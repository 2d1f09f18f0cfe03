"""Meetings end to end through signed callbacks: schedule, sign in three ways, leave, reports."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.base import db
from models.meetings import Attendance, Meeting, MeetingAttendee
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # a Thursday
START = datetime(2026, 12, 3, 15, 0, tzinfo=SH)
CREATE = "会议 党课 12月3日 15:00 三楼会议室 学习党章"


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def org(app, settings):
    """Branch A: secretary, organizer, members (one probationary, one activist); branch B."""
    with app.app_context(), db.connection_context():
        a = f.branch("第一党支部")
        b = f.branch("第二党支部")
        g = f.group(a, "第一党小组")
        people = {
            "sec": f.member("书记甲", a, roles="secretary"),
            "org": f.member("组织委员乙", a, roles="organizer", party_group=g),
            "m1": f.member("党员丙", a, party_group=g),
            "m2": f.member("党员丁", a),
            "prob": f.member("预备戊", a, status="probationary"),
            "act": f.member("积极分子己", a, status="activist"),
            "secb": f.member("书记庚", b, roles="secretary"),
            "mb": f.member("党员辛", b),
        }
        ids = {key: f.bound(p, f"oid-{key}") for key, p in people.items()}
    return {"a": a, "b": b, "group": g, "people": people, "openid": ids}


def say(wechat, org, who: str, text: str) -> str:
    return wechat.send_text(org["openid"][who], text).reply


def attendance():
    with db.connection_context():
        return list(Attendance.select().order_by(Attendance.id))


def schedule(wechat, org, text: str = CREATE, who: str = "sec") -> int:
    with at(NOW):
        reply = say(wechat, org, who, text)
    assert reply.startswith("已安排会议【编号"), reply
    return int(reply.split("【编号")[1].split("】")[0])


# ---- scheduling -----------------------------------------------------------------------------


def test_secretary_schedules_with_a_forgiving_parser_and_sees_how_it_was_understood(wechat, org):
    with at(NOW):
        reply = say(wechat, org, "sec", CREATE)
    assert "类型：党课" in reply and "地点：三楼会议室" in reply and "主题：学习党章" in reply
    assert "2026年12月3日" in reply and "15:00" in reply and "16:30" in reply
    assert "应到：5 人" in reply  # party members of the branch: not the activist
    with db.connection_context():
        (meeting,) = Meeting.select()
        assert meeting.starts_at == START and meeting.ends_at == START + timedelta(minutes=90)
        expected = {a.member_id for a in MeetingAttendee.select()}
    people = org["people"]
    assert expected == {people[k].id for k in ("sec", "org", "m1", "m2", "prob")}


def test_committee_and_group_meetings_expect_the_right_people(wechat, org):
    people = org["people"]
    cid = schedule(wechat, org, "会议 支委会 12月3日 9:00 书记办公室")
    gid = schedule(wechat, org, "会议 党小组会 第一党小组 12月4日 15:00 会议室")
    with db.connection_context():

        def of(mid):
            q = MeetingAttendee.select().where(MeetingAttendee.meeting == mid)
            return {a.member_id for a in q}

        assert of(cid) == {people["sec"].id, people["org"].id}
        assert of(gid) == {people["org"].id, people["m1"].id}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("会议 座谈会 12月3日 15:00", "没有识别出会议类型"),
        ("会议 党课 三楼会议室", "例如"),
        ("会议 党课 12月3日 三楼", "15:00"),
        ("会议 党课 2026年11月20日 15:00 三楼", "已经过去"),
        ("会议 党课 2月30日 15:00", "2月30日"),
        ("会议 党课 12月3日 15:00-14:00", "不晚于"),
    ],
)
def test_bad_meeting_commands_say_what_is_wrong_and_write_nothing(wechat, org, text, says):
    with at(NOW):
        reply = say(wechat, org, "sec", text)
    assert says in reply, reply
    with db.connection_context():
        assert Meeting.select().count() == 0


def test_overlapping_signin_windows_are_refused(wechat, org):
    schedule(wechat, org)
    with at(NOW):
        reply = say(wechat, org, "sec", "会议 主题党日 12月3日 16:00 广场")
        assert "签到时间重叠" in reply and "学习党章" in reply
        ok = say(wechat, org, "sec", "会议 主题党日 12月3日 17:00 广场")
        assert ok.startswith("已安排会议")
        # Another branch at the same time is no clash.
        assert say(wechat, org, "secb", CREATE).startswith("已安排会议")


def test_only_managers_of_the_branch_may_schedule_or_run_sign_in(wechat, org):
    mid = schedule(wechat, org)
    with at(NOW):
        assert "只有支部书记" in say(wechat, org, "m1", CREATE)
    with at(START):
        assert "只有支部书记" in say(wechat, org, "m1", "开始签到")
        assert "本支部" in say(wechat, org, "secb", f"开始签到 {mid}")
        assert "本支部" in say(wechat, org, "secb", f"补签 党员丙 {mid}")
        assert "本支部" in say(wechat, org, "secb", f"取消会议 {mid}")
        assert "本支部" in say(wechat, org, "secb", f"会议 情况 {mid}")
        assert "签到码" in say(wechat, org, "org", "开始签到")  # the organizer may
    with db.connection_context():
        assert Meeting.get_by_id(mid).status == "scheduled"


def test_edit_and_cancel_keep_attendance(wechat, org):
    mid = schedule(wechat, org)
    with at(START):
        code = say(wechat, org, "sec", "开始签到").split("签到码：")[1][:6]
        assert "签到成功" in say(wechat, org, "m1", f"签到 {code}")
        reply = say(wechat, org, "sec", f"修改会议 {mid} 地点 二楼会议室")
        assert "二楼会议室" in reply and "保持不变" in reply
        assert "已取消" in say(wechat, org, "sec", f"取消会议 {mid}")
        assert "已经取消过" in say(wechat, org, "sec", f"取消会议 {mid}")
    assert [(a.member_id, a.status) for a in attendance()] == [(org["people"]["m1"].id, "present")]


def test_edit_time_rechecks_the_rules(wechat, org):
    mid = schedule(wechat, org)
    with at(NOW):
        reply = say(wechat, org, "sec", f"修改会议 {mid} 时间 12月5日 9:30")
        assert "12月5日" in reply
        assert "已经过去" in say(wechat, org, "sec", f"修改会议 {mid} 时间 2026年11月1日 9:30")
        assert "可以修改" in say(wechat, org, "sec", f"修改会议 {mid} 颜色 红")
    with db.connection_context():
        meeting = Meeting.get_by_id(mid)
    assert meeting.starts_at == datetime(2026, 12, 5, 9, 30, tzinfo=SH)
    assert meeting.ends_at - meeting.starts_at == timedelta(minutes=90)


# ---- sign-in by code ------------------------------------------------------------------------


def test_signin_code_works_only_inside_the_window_to_the_second(wechat, org, settings):
    schedule(wechat, org)
    before = timedelta(minutes=settings.meetings.signin_open_before_minutes)
    after = timedelta(minutes=settings.meetings.signin_close_after_start_minutes)
    opens, closes = START - before, START + after
    with at(opens - timedelta(seconds=1)):
        assert "没有正在签到时段内的会议" in say(wechat, org, "sec", "开始签到")
        assert "不在签到时段内" in say(wechat, org, "sec", "开始签到 1")
    with at(opens + timedelta(seconds=1)):
        reply = say(wechat, org, "sec", "开始签到")
    code = reply.split("签到码：")[1][:6]
    assert code.isdigit()
    with at(opens - timedelta(seconds=1)):
        assert "签到尚未开始" in say(wechat, org, "m1", f"签到 {code}")
    with at(opens + timedelta(seconds=1)):
        assert "签到成功" in say(wechat, org, "m1", f"签到 {code}")
        assert "无需重复签到" in say(wechat, org, "m1", f"签到 {code}")
    with at(closes - timedelta(seconds=1)):
        assert "签到成功" in say(wechat, org, "m2", f"签到 {code}")
    with at(closes + timedelta(seconds=1)):
        reply = say(wechat, org, "prob", f"签到 {code}")
        assert "签到已于" in reply and "补签" in reply
    assert len(attendance()) == 2


def test_signin_refusals(wechat, org):
    schedule(wechat, org)
    with at(START):
        code = say(wechat, org, "sec", "开始签到").split("签到码：")[1][:6]
        wrong = "000000" if code != "000000" else "111111"
        assert "签到码不正确" in say(wechat, org, "m1", f"签到 {wrong}")
        assert "签到码是" in say(wechat, org, "m1", "签到 abc")
        assert "参会范围" in say(wechat, org, "act", f"签到 {code}")
        # another branch's code is simply wrong: it must not tell that the meeting exists
        assert "签到码不正确" in say(wechat, org, "mb", f"签到 {code}")
        assert "尚未绑定" in wechat.send_text("stranger", f"签到 {code}").reply
    assert attendance() == []


def test_wrong_codes_are_rate_limited(wechat, org, settings):
    schedule(wechat, org)
    limit = settings.meetings.max_wrong_codes_per_hour
    with at(START):
        code = say(wechat, org, "sec", "开始签到").split("签到码：")[1][:6]
        wrong = [f"{n:06d}" for n in range(limit + 2) if f"{n:06d}" != code][:limit]
        for w in wrong:
            assert "不正确" in say(wechat, org, "m1", f"签到 {w}")
        assert "次数过多" in say(wechat, org, "m1", f"签到 {code}")
        assert "签到成功" in say(wechat, org, "m2", f"签到 {code}")


def test_the_same_signin_100_times_concurrently_records_once(wechat, org):
    schedule(wechat, org)
    with at(START):
        code = say(wechat, org, "sec", "开始签到").split("签到码：")[1][:6]
    with time_machine.travel(START, tick=True):
        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(lambda _: say(wechat, org, "m1", f"签到 {code}"), range(100)))
    assert sum("签到成功" in r for r in replies) == 1
    assert sum("无需重复签到" in r for r in replies) == 99
    assert len(attendance()) == 1


# ---- sign-in by hand, leave, reports --------------------------------------------------------


def test_leave_approval_and_the_report_after_the_meeting(wechat, org):
    people = org["people"]
    mid = schedule(wechat, org, "会议 党员大会 12月3日 15:00-17:00 大会议室 选举")
    with at(NOW):
        reply = say(wechat, org, "m2", "请假 出差在外")
        assert "已提交请假" in reply and "出差在外" in reply
        assert "请写明请假原因" in say(wechat, org, "prob", "请假")
        assert "请假" in say(wechat, org, "prob", f"请假 {mid} 家中有事")
        assert "无需请假" in say(wechat, org, "act", "请假 有事")
        assert "已批准 党员丁" in say(wechat, org, "sec", "批准请假 党员丁")
        assert "已驳回 预备戊" in say(wechat, org, "sec", "驳回请假 预备戊")
        assert "没有找到" in say(wechat, org, "sec", "批准请假 不存在")
    with at(START):
        code = say(wechat, org, "sec", "开始签到").split("签到码：")[1][:6]
        assert "签到成功" in say(wechat, org, "m1", f"签到 {code}")
        assert "签到成功" in say(wechat, org, "sec", f"签到 {code}")
        reply = say(wechat, org, "sec", "补签 组织委员乙")
        assert "已为 组织委员乙 补签" in reply
        assert "无需补签" in say(wechat, org, "sec", "补签 组织委员乙")
        assert "没有“路人”" in say(wechat, org, "sec", "补签 路人")
        live = say(wechat, org, "sec", "会议 情况")
        assert "未签到：预备戊" in live
    with at(START + timedelta(hours=3)):
        report = say(wechat, org, "sec", f"会议 情况 {mid}")
    assert "应到 5 人，实到 3 人，出席率 60%" in report
    assert "已签到：书记甲、组织委员乙、党员丙" in report
    assert "请假（已批准）：党员丁（出差在外）" in report
    assert "请假未批准：预备戊（家中有事）" in report and "缺席：预备戊" in report
    # Voting members are the 4 full members: 3 present > half.
    assert "至少 3 人" in report and "实到 3 人，符合" in report
    manual = [a for a in attendance() if a.method == "manual"]
    assert [(a.member_id, a.recorded_by_id) for a in manual] == [
        (people["org"].id, people["sec"].id)
    ]


def leave_of(member) -> list[tuple[int, str, str]]:
    """(meeting, status, leave status) of a member's attendance rows."""
    return sorted(
        (a.meeting_id, a.status, a.leave_status) for a in attendance() if a.member_id == member.id
    )


def test_a_decision_without_a_number_leaves_decided_and_ended_leaves_alone(wechat, org):
    m2 = org["people"]["m2"]
    mid = schedule(wechat, org)
    with at(NOW):
        say(wechat, org, "m2", "请假 出差在外")
        assert "已批准 党员丁" in say(wechat, org, "sec", "批准请假 党员丁")
        # Decided stays decided, even while the meeting is ahead.
        reply = say(wechat, org, "sec", "驳回请假 党员丁")
        assert "已批准，不能再更改" in reply and f"请假 {mid} 原因" in reply
    # Months later: nothing is pending, the approved leave of the ended meeting stays.
    with at(START + timedelta(days=90)):
        reply = say(wechat, org, "sec", "驳回请假 党员丁")
        assert "已驳回" not in reply and "不能再更改" in reply
        assert "不能再更改" in say(wechat, org, "sec", f"驳回请假 党员丁 {mid}")
    assert leave_of(m2) == [(mid, "leave", "approved")]


def test_a_pending_leave_of_an_ended_meeting_is_not_decided(wechat, org):
    m2 = org["people"]["m2"]
    mid = schedule(wechat, org)
    with at(NOW):
        say(wechat, org, "m2", "请假 出差在外")
    with at(START + timedelta(days=1)):
        reply = say(wechat, org, "sec", "批准请假 党员丁")
        assert "结束" in reply and "不能再审批" in reply and "已批准" not in reply
    assert leave_of(m2) == [(mid, "leave", "pending")]
    with at(NOW):
        reply = say(wechat, org, "sec", "批准请假 党员甲")
        assert "没有找到“党员甲”的请假申请" in reply and "会议 情况 编号" in reply


def test_several_pending_leaves_are_listed_and_the_number_picks_one(wechat, org):
    m2 = org["people"]["m2"]
    first = schedule(wechat, org)
    second = schedule(wechat, org, "会议 主题党日 12月10日 9:00 广场 志愿服务")
    with at(NOW):
        say(wechat, org, "m2", f"请假 {first} 出差在外")
        say(wechat, org, "m2", f"请假 {second} 家中有事")
        reply = say(wechat, org, "sec", "驳回请假 党员丁")
        assert "有 2 个会议的请假待审批" in reply
        assert f"【编号{first}】党课《学习党章》" in reply and "原因：出差在外" in reply
        assert f"【编号{second}】主题党日《志愿服务》" in reply and "原因：家中有事" in reply
        assert f"驳回请假 党员丁 {first}" in reply
        assert leave_of(m2) == [(first, "leave", "pending"), (second, "leave", "pending")]
        assert "已批准 党员丁" in say(wechat, org, "sec", f"批准请假 党员丁 {second}")
        # One pending request left: the name alone is enough again.
        assert "已驳回 党员丁" in say(wechat, org, "sec", "驳回请假 党员丁")
    assert leave_of(m2) == [(first, "leave", "rejected"), (second, "leave", "approved")]


def test_quorum_not_met_is_flagged(wechat, org):
    schedule(wechat, org, "会议 支委会 12月3日 15:00 办公室")
    with at(START + timedelta(hours=2)):
        report = say(wechat, org, "sec", "会议 情况")
    assert "至少 2 人" in report and "实到 0 人，不足" in report


def test_leave_is_refused_once_the_meeting_started(wechat, org):
    schedule(wechat, org)
    with at(START + timedelta(minutes=1)):
        assert "无需请假" in say(wechat, org, "m1", "请假 迟到了")


def test_mine_shows_upcoming_meetings_and_quarter_attendance(wechat, org):
    schedule(wechat, org)
    schedule(wechat, org, "会议 主题党日 12月10日 9:00 广场 志愿服务")
    with at(START):
        code = say(wechat, org, "sec", "开始签到").split("签到码：")[1][:6]
        say(wechat, org, "m1", f"签到 {code}")
    with at(START + timedelta(hours=2)):
        mine = say(wechat, org, "m1", "我的")
    assert "本季度参会：1/1 次" in mine and "主题党日《志愿服务》" in mine
    with at(START + timedelta(hours=2)):
        assert "本季度参会：0/1 次" in say(wechat, org, "m2", "我的")


def test_meeting_list_and_help_for_managers(wechat, org):
    schedule(wechat, org)
    with at(NOW):
        assert "近期会议：\n【编号" in say(wechat, org, "sec", "会议")
        assert "开始签到" in say(wechat, org, "sec", "帮助")
        assert "开始签到" not in say(wechat, org, "m1", "帮助")


def test_host_recorder_minutes_and_decisions_are_recorded(wechat, org):
    mid = schedule(wechat, org, "会议 党员大会 12月3日 15:00 大会议室 选举")
    with at(NOW):
        assert "已修改" in say(wechat, org, "sec", f"修改会议 {mid} 主持人 书记甲")
        assert "已修改" in say(wechat, org, "sec", f"修改会议 {mid} 记录人 组织委员乙")
        assert "没有名为“路人”" in say(wechat, org, "sec", f"修改会议 {mid} 记录人 路人")
    with at(START + timedelta(hours=3)):  # minutes and decisions after the meeting
        assert "已修改" in say(wechat, org, "sec", f"修改会议 {mid} 纪要 传达学习了上级精神")
        assert "已修改" in say(wechat, org, "sec", f"修改会议 {mid} 决议 同意接收预备党员")
        assert "不能再改时间" in say(wechat, org, "sec", f"修改会议 {mid} 时间 12月4日 9:00")
        report = say(wechat, org, "sec", f"会议 情况 {mid}")
    assert "主持人：书记甲，记录人：组织委员乙" in report
    assert "纪要：已记录；决议：同意接收预备党员" in report
    with db.connection_context():
        meeting = Meeting.get_by_id(mid)
    assert meeting.minutes == "传达学习了上级精神"
    assert (meeting.host_id, meeting.recorder_id) == (
        org["people"]["sec"].id,
        org["people"]["org"].id,
    )
