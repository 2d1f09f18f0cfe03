"""The meetings API: a member's meetings, sign-in and leave; a manager's scheduling, sign-in
codes and QR, 补签, reports and leave decisions. Real HTTP against the cast of
tests/support/api.py; every answer is checked against the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from models.meetings import Attendance, Meeting, MeetingAttendee
from models.wechat import RateEvent
from tests import factories as f
from tests.support.api import Env
from tests.support.apps import make_driver

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # a Thursday
START = datetime(2026, 12, 3, 15, 0, tzinfo=SH)
OPENS = START - timedelta(minutes=30)  # signin_open_before_minutes
CLOSES = START + timedelta(minutes=60)  # signin_close_after_start_minutes
SEC = timedelta(seconds=1)
MEETINGS = "/api/v1/meetings"


def err(r, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["errcode"] == errcode, body
    return body["errmsg"]


@pytest.fixture
def env(make_env) -> Env:
    # Many logins happen inside one frozen minute: lift the per-address login limit.
    return make_env(api={"login_rate_per_minute": 1000})


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def ids(env: Env, *keys: str) -> set[int]:
    return {env.people[k].id for k in keys}


def create(env: Env, who: str = "sec", when: datetime = NOW, **fields: Any) -> dict[str, Any]:
    payload = {
        "kind": "lesson",
        "title": "学习党章",
        "place": "三楼会议室",
        "starts_at": START.isoformat(),
        **fields,
    }
    with at(when):
        r = env.api.post(MEETINGS, token=env.token(who), json=payload)
    assert r.status_code == 201, r.text
    return r.json()


def open_signin(env: Env, mid: int, moment: datetime = START, who: str = "sec") -> dict[str, Any]:
    with at(moment):
        r = env.api.post(f"{MEETINGS}/{mid}/signin-code", token=env.token(who))
    assert r.status_code == 200, r.text
    return r.json()


def sign(env: Env, who: str, moment: datetime, **payload: Any) -> Any:
    with at(moment):
        return env.api.post(f"{MEETINGS}/signin", token=env.token(who), json=payload)


def meeting_row(env: Env, mid: int) -> Meeting:
    with env.ctx():
        return Meeting.get_by_id(mid)


def attendance(env: Env, mid: int | None = None) -> list[Attendance]:
    with env.ctx():
        q = Attendance.select().order_by(Attendance.id)
        if mid is not None:
            q = q.where(Attendance.meeting == mid)
        return list(q)


# ---- scheduling -----------------------------------------------------------------------------


def test_secretary_schedules_and_members_see_the_detail(env: Env):
    sec, m1 = env.people["sec"], env.people["m1"]
    answer = create(env, host_id=sec.id, recorder_id=m1.id, duration_minutes=120)
    assert answer["kind"] == "lesson" and answer["kind_label"] == "党课"
    assert answer["starts_at"] == "2026-12-03T15:00:00+08:00"
    assert answer["ends_at"] == "2026-12-03T17:00:00+08:00"
    assert answer["host"] == {"id": sec.id, "name": "书记甲"}
    assert answer["recorder"] == {"id": m1.id, "name": "党员丙"}
    assert answer["expected_count"] == 5 and answer["expected"] is True
    assert answer["signin"] == {
        "opens_at": "2026-12-03T14:30:00+08:00",
        "closes_at": "2026-12-03T16:00:00+08:00",
        "open": False,
    }
    assert answer["can_manage"] is True and answer["minutes"] == ""
    with env.ctx():
        meeting = Meeting.get_by_id(answer["id"])
        expected = {
            a.member_id
            for a in MeetingAttendee.select().where(MeetingAttendee.meeting == meeting.id)
        }
    assert meeting.branch_id == env.branches["A"].id and meeting.created_by_id == sec.id
    assert (meeting.host_id, meeting.recorder_id) == (sec.id, m1.id)
    assert meeting.ends_at == START + timedelta(hours=2) and meeting.status == "scheduled"
    assert expected == ids(env, "sec", "m1", "m2", "new", "admin")

    with at(OPENS + SEC):
        detail = env.api.get(f"{MEETINGS}/{meeting.id}", token=env.token("m1")).json()
    assert detail["can_manage"] is False and detail["minutes"] is None
    assert detail["signin"]["open"] is True and detail["my_state"] == "none"
    assert detail["mine"] == {"at": None, "method": None, "leave_reason": None}
    assert detail["title"] == "学习党章" and detail["place"] == "三楼会议室"


def test_default_duration_and_a_group_meeting(env: Env):
    with env.ctx():
        group = f.group(env.branches["A"], "第一党小组")
        env.people["m1"].party_group = group
        env.people["m1"].save()
        other = f.group(env.branches["B"], "第二党小组")
    plain = create(env)
    assert plain["ends_at"] == "2026-12-03T16:30:00+08:00"  # default_duration_minutes = 90
    grouped = create(env, kind="group", group_id=group.id, starts_at="2026-12-04T15:00:00+08:00")
    assert grouped["group"] == {"id": group.id, "name": "第一党小组"}
    assert grouped["expected_count"] == 1
    with at(NOW):
        token = env.token("sec")
        payload = {"kind": "group", "starts_at": "2026-12-05T15:00:00+08:00"}
        r = env.api.post(MEETINGS, token=token, json=payload)
        assert "group_id" in err(r, 400, "missing_field")
        r = env.api.post(MEETINGS, token=token, json={**payload, "group_id": other.id})
        err(r, 422, "group_not_in_branch")
    with env.ctx():
        assert Meeting.select().count() == 2


@pytest.mark.parametrize(
    ("change", "status", "errcode", "named"),
    [
        ({"kind": None}, 400, "missing_field", "kind"),
        ({"kind": "party"}, 400, "invalid_field", "kind"),
        ({"starts_at": "2026-12-03 15:00"}, 400, "invalid_field", "starts_at"),
        ({"starts_at": 1764745200}, 400, "invalid_field", "starts_at"),
        ({"title": "长" * 201}, 400, "invalid_field", "title"),
        ({"color": "红"}, 400, "unknown_field", "color"),
        ({"duration_minutes": 0}, 400, "invalid_field", "duration_minutes"),
        (
            {"ends_at": "2026-12-03T16:00:00+08:00", "duration_minutes": 30},
            400,
            "invalid_field",
            "duration_minutes",
        ),
        ({"host_id": "书记甲"}, 400, "invalid_field", "host_id"),
        ({"starts_at": "2026-11-20T15:00:00+08:00"}, 422, "time_in_past", "已经过去"),
        ({"ends_at": "2026-12-03T14:00:00+08:00"}, 422, "end_before_start", "不晚于"),
        ({"starts_at": "2026-12-03T15:30:00+08:00"}, 422, "signin_overlap", "重叠"),
        ({"host_id": "mb"}, 422, "member_not_in_branch", "主持人"),
        ({"branch_id": "X"}, 403, "forbidden", "权限"),
    ],
)
def test_create_refusals_name_the_field_and_write_nothing(
    env: Env, change, status, errcode, named
):
    create(env)  # the meeting an overlapping one clashes with
    payload: dict[str, Any] = {"kind": "lesson", "starts_at": "2026-12-10T15:00:00+08:00"}
    for key, value in change.items():
        if value is None:
            payload.pop(key)
        elif key == "host_id" and value in env.people:
            payload[key] = env.people[value].id
        elif key == "branch_id":
            payload[key] = env.branches[value].id
        else:
            payload[key] = value
    with at(NOW):
        r = env.api.post(MEETINGS, token=env.token("sec"), json=payload)
    assert named in err(r, status, errcode)
    with env.ctx():
        assert Meeting.select().count() == 1


def test_edit_and_cancel(env: Env):
    mid = create(env)["id"]
    path = f"{MEETINGS}/{mid}"
    m1 = env.people["m1"]
    with at(NOW):
        token = env.token("sec")
        r = env.api.call(
            "PATCH", path, token=token, json={"place": "二楼会议室", "recorder_id": m1.id}
        )
        assert r.status_code == 200, r.text
        assert r.json()["place"] == "二楼会议室" and r.json()["recorder"]["id"] == m1.id
        r = env.api.call(
            "PATCH", path, token=token, json={"starts_at": "2026-12-05T09:30:00+08:00"}
        )
        assert r.json()["ends_at"] == "2026-12-05T11:00:00+08:00"  # the duration is kept
        r = env.api.call("PATCH", path, token=token, json={"ends_at": "2026-12-05T10:00:00+08:00"})
        assert r.json()["starts_at"] == "2026-12-05T09:30:00+08:00"
        r = env.api.call("PATCH", path, token=token, json={"duration_minutes": 45})
        assert r.json()["ends_at"] == "2026-12-05T10:15:00+08:00"
        err(env.api.call("PATCH", path, token=token, json={}), 400, "missing_field")
        r = env.api.call("PATCH", path, token=token, json={"kind": "general"})
        assert "kind" in err(r, 400, "unknown_field")
        # Minutes and decisions follow meetings.minutes_max_chars / decisions_max_chars
        # (10,000 and 5,000), as in the bot and the console.
        r = env.api.call("PATCH", path, token=token, json={"minutes": "字" * 10001})
        assert "minutes" in err(r, 400, "invalid_field")
        r = env.api.call("PATCH", path, token=token, json={"decisions": "字" * 5001})
        assert "decisions" in err(r, 400, "invalid_field")
        r = env.api.call("PATCH", path, token=token, json={"minutes": "字" * 5001})
        assert r.status_code == 200 and len(r.json()["minutes"]) == 5001
        r = env.api.call("PATCH", path, token=token, json={"host_id": env.people["mx"].id})
        err(r, 422, "member_not_in_branch")
    meeting = meeting_row(env, mid)
    assert (
        meeting.place == "二楼会议室" and meeting.recorder_id == m1.id and meeting.host_id is None
    )
    assert meeting.starts_at == datetime(2026, 12, 5, 9, 30, tzinfo=SH)
    assert meeting.ends_at == datetime(2026, 12, 5, 10, 15, tzinfo=SH)
    after = datetime(2026, 12, 5, 12, 0, tzinfo=SH)
    with at(after):
        token = env.token("sec")
        r = env.api.call(
            "PATCH", path, token=token, json={"starts_at": "2026-12-06T09:30:00+08:00"}
        )
        err(r, 422, "meeting_started")
        r = env.api.call(
            "PATCH", path, token=token, json={"minutes": "传达学习了上级精神", "decisions": "同意"}
        )
        assert r.json()["minutes"] == "传达学习了上级精神" and r.json()["decisions"] == "同意"
        r = env.api.post(f"{path}/cancel", token=token)
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert r.json()["status_label"] == "已取消"
        err(env.api.post(f"{path}/cancel", token=token), 422, "meeting_cancelled")
        r = env.api.call("PATCH", path, token=token, json={"place": "一楼"})
        err(r, 422, "meeting_cancelled")
        r = env.api.post(f"{path}/cancel", token=token, json={"why": "x"})
        err(r, 400, "unknown_field")
    meeting = meeting_row(env, mid)
    assert meeting.status == "cancelled" and meeting.place == "二楼会议室"
    assert meeting.decisions == "同意"


# ---- who may see and manage what ------------------------------------------------------------


def _manager_calls(mid: int, leave_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"{MEETINGS}/{mid}"
    return [
        ("PATCH", base, {"place": "别处"}),
        ("POST", f"{base}/cancel", None),
        ("POST", f"{base}/signin-code", None),
        ("POST", f"{base}/attendance", {"member_ids": [1]}),
        ("GET", f"{base}/attendance", None),
        ("GET", f"{base}/leaves", None),
        ("POST", f"{MEETINGS}/leaves/{leave_id}/decision", {"approve": True}),
    ]


def test_plain_members_get_403_and_other_branches_404_on_manager_routes(env: Env):
    mid = create(env)["id"]
    with at(NOW):
        r = env.api.post(
            f"{MEETINGS}/{mid}/leave", token=env.token("m1"), json={"reason": "出差在外"}
        )
    leave_id = r.json()["attendance"]["id"]
    with at(START):
        tokens = {k: env.token(k) for k in ("m1", "secb", "mb", "secx", "mx")}
        for method, path, payload in _manager_calls(mid, leave_id):
            kw = {"json": payload} if payload is not None else {}
            err(env.api.call(method, path, token=tokens["m1"], **kw), 403, "forbidden")
            for other in ("secb", "mb", "secx", "mx"):
                err(env.api.call(method, path, token=tokens[other], **kw), 404, "not_found")
        # Members' own routes: another branch's meeting does not exist for them.
        for other in ("secb", "mx"):
            err(env.api.get(f"{MEETINGS}/{mid}", token=tokens[other]), 404, "not_found")
            r = env.api.post(
                f"{MEETINGS}/{mid}/leave", token=tokens[other], json={"reason": "有事"}
            )
            err(r, 404, "not_found")
        err(env.api.get(f"{MEETINGS}/999999", token=tokens["m1"]), 404, "not_found")
        payload = {"kind": "lesson", "starts_at": "2026-12-10T15:00:00+08:00"}
        err(env.api.post(MEETINGS, token=tokens["m1"], json=payload), 403, "forbidden")
        r = env.api.get(MEETINGS, token=tokens["m1"], params={"branch_id": env.branches["B"].id})
        err(r, 403, "forbidden")
    meeting = meeting_row(env, mid)
    assert meeting.status == "scheduled" and meeting.place == "三楼会议室"
    assert meeting.signin_code is None
    assert [(a.member_id, a.status, a.leave_status) for a in attendance(env)] == [
        (env.people["m1"].id, "leave", "pending")
    ]


def test_committee_admin_manages_branch_b_and_another_committee_may_not(env: Env):
    b = env.branches["B"]
    answer = create(env, who="admin", branch_id=b.id, title="支部联学")
    mid = answer["id"]
    assert answer["branch_id"] == b.id and answer["can_manage"] is True
    assert answer["expected"] is False and answer["expected_count"] == 2
    with at(NOW):
        token = env.token("admin")
        listing = env.api.get(MEETINGS, token=token, params={"branch_id": b.id}).json()
        assert [m["id"] for m in listing["items"]] == [mid]
        assert env.api.get(MEETINGS, token=token).json()["items"] == []  # own branch: none
        r = env.api.call("PATCH", f"{MEETINGS}/{mid}", token=token, json={"place": "党群中心"})
        assert r.status_code == 200, r.text
        # The secretary of another committee can neither act for B nor see its meeting.
        other = env.token("secx")
        payload = {"kind": "lesson", "starts_at": START.isoformat(), "branch_id": b.id}
        err(env.api.post(MEETINGS, token=other, json=payload), 403, "forbidden")
        r = env.api.get(MEETINGS, token=other, params={"branch_id": b.id})
        err(r, 403, "forbidden")
        err(env.api.get(f"{MEETINGS}/{mid}", token=other), 404, "not_found")
        r = env.api.call("PATCH", f"{MEETINGS}/{mid}", token=other, json={"place": "x"})
        err(r, 404, "not_found")
        # A branch secretary cannot act for a sibling branch either.
        r = env.api.post(
            MEETINGS, token=env.token("secb"), json={**payload, "branch_id": env.branches["A"].id}
        )
        err(r, 403, "forbidden")
        assert env.api.get(f"{MEETINGS}/{mid}", token=env.token("mb")).json()["expected"]
    opened = open_signin(env, mid, who="admin")
    assert opened["code"].isdigit()
    with at(START):
        r = env.api.get(f"{MEETINGS}/{mid}/attendance", token=env.token("admin"))
        assert r.status_code == 200 and r.json()["expected_count"] == 2
    meeting = meeting_row(env, mid)
    assert meeting.branch_id == b.id and meeting.place == "党群中心"
    assert meeting.created_by_id == env.people["admin"].id


def test_unbound_and_anonymous_callers(env: Env):
    mid = create(env)["id"]
    with at(START):
        stranger = env.token("mini-stranger")
        for path in (MEETINGS, f"{MEETINGS}/{mid}", f"{MEETINGS}/attendance"):
            err(env.api.get(path, token=stranger), 403, "not_bound")
            err(env.api.get(path), 401, "unauthorized")
        r = env.api.post(f"{MEETINGS}/signin", token=stranger, json={"code": "123456"})
        err(r, 403, "not_bound")
    assert attendance(env) == []


# ---- the member's list ----------------------------------------------------------------------


def test_member_list_shows_own_branch_upcoming_with_my_state(env: Env):
    lesson = create(env)["id"]
    committee = create(env, kind="committee", starts_at="2026-12-04T09:00:00+08:00")["id"]
    create(env, who="secb")  # branch B at the same time: not in A's list
    with at(NOW):
        token = env.token("m1")
        r = env.api.post(f"{MEETINGS}/{lesson}/leave", token=token, json={"reason": "出差"})
        assert r.status_code == 201
        page = env.api.get(MEETINGS, token=token).json()
        assert (page["total"], page["limit"], page["offset"]) == (2, 20, 0)
        assert [(m["id"], m["expected"], m["my_state"]) for m in page["items"]] == [
            (lesson, True, "leave_pending"),
            (committee, False, "none"),
        ]
        second = env.api.get(MEETINGS, token=token, params={"limit": 1, "offset": 1}).json()
        assert [m["id"] for m in second["items"]] == [committee] and second["total"] == 2
        assert "limit" in err(
            env.api.get(MEETINGS, token=token, params={"limit": 0}), 400, "invalid_field"
        )
        r = env.api.get(MEETINGS, token=token, params={"page": 2})
        assert "page" in err(r, 400, "unknown_field")
        cancel = env.api.post(f"{MEETINGS}/{committee}/cancel", token=env.token("sec"))
        assert cancel.status_code == 200
        items = env.api.get(MEETINGS, token=token).json()["items"]
        assert [m["status"] for m in items] == ["scheduled", "cancelled"]
    with at(datetime(2026, 12, 3, 17, 0, tzinfo=SH)):  # the lesson ended
        items = env.api.get(MEETINGS, token=env.token("m1")).json()["items"]
        assert [m["id"] for m in items] == [committee]


def test_my_attendance_this_quarter_and_past_meetings(env: Env):
    lesson = create(env)["id"]
    theme = create(env, kind="theme_day", starts_at="2026-12-10T09:00:00+08:00")["id"]
    code = open_signin(env, lesson)["code"]
    assert sign(env, "m1", START, code=code).status_code == 201
    with at(datetime(2026, 12, 11, 9, 0, tzinfo=SH)):
        mine = env.api.get(f"{MEETINGS}/attendance", token=env.token("m1")).json()
        assert mine["quarter"] == {"start": "2026-10-01", "attended": 1, "held": 2, "rate": 0.5}
        assert [(m["id"], m["my_state"]) for m in mine["items"]] == [
            (theme, "none"),
            (lesson, "present"),
        ]
        assert mine["total"] == 2
        page = env.api.get(
            f"{MEETINGS}/attendance", token=env.token("admin"), params={"limit": 1}
        ).json()
        assert page["quarter"]["attended"] == 0 and page["quarter"]["held"] == 2
        assert len(page["items"]) == 1 and page["total"] == 2
        other = env.api.get(f"{MEETINGS}/attendance", token=env.token("mb")).json()
        assert other["quarter"]["rate"] is None and other["items"] == []
    with at(datetime(2027, 1, 5, 9, 0, tzinfo=SH)):  # a new quarter; the past list stays
        mine = env.api.get(f"{MEETINGS}/attendance", token=env.token("m1")).json()
        assert mine["quarter"] == {"start": "2027-01-01", "attended": 0, "held": 0, "rate": None}
        assert mine["total"] == 2


# ---- sign-in --------------------------------------------------------------------------------


def test_signin_code_only_inside_the_window_to_the_second(env: Env):
    mid = create(env)["id"]
    with at(OPENS - SEC):
        r = env.api.post(f"{MEETINGS}/{mid}/signin-code", token=env.token("sec"))
        err(r, 422, "signin_not_open")
    with at(CLOSES + SEC):
        r = env.api.post(f"{MEETINGS}/{mid}/signin-code", token=env.token("sec"))
        err(r, 422, "signin_closed")
    opened = open_signin(env, mid, OPENS + SEC)
    code = opened["code"]
    assert len(code) == 6 and code.isdigit()
    assert opened["opens_at"] == "2026-12-03T14:30:00+08:00"
    assert opened["closes_at"] == "2026-12-03T16:00:00+08:00"
    assert "签到尚未开始" in err(sign(env, "m1", OPENS - SEC, code=code), 422, "signin_not_open")
    first = sign(env, "m1", OPENS + SEC, code=code)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["meeting"]["my_state"] == "present"
    assert body["attendance"]["method"] == "code"
    assert body["attendance"]["at"] == "2026-12-03T14:30:01+08:00"
    again = sign(env, "m1", START, code=f" {code[:3]} {code[3:]} ")
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["attendance"]["at"] == "2026-12-03T14:30:01+08:00"
    assert sign(env, "admin", CLOSES - SEC, code=code).status_code == 201
    assert "补签" in err(sign(env, "sec", CLOSES + SEC, code=code), 422, "signin_closed")
    rows = attendance(env, mid)
    assert [(a.member_id, a.status, a.method, a.at) for a in rows] == [
        (env.people["m1"].id, "present", "code", OPENS + SEC),
        (env.people["admin"].id, "present", "code", CLOSES - SEC),
    ]
    with at(START):
        detail = env.api.get(f"{MEETINGS}/{mid}", token=env.token("m1")).json()
    assert detail["mine"] == {
        "at": "2026-12-03T14:30:01+08:00",
        "method": "code",
        "leave_reason": None,
    }


def test_signin_by_scanned_scene(env: Env):
    mid = create(env)["id"]
    scene = meeting_row(env, mid).qr_scene
    r = sign(env, "m1", START, scene=scene)
    assert r.status_code == 201, r.text
    assert r.json()["attendance"]["method"] == "qr" and r.json()["meeting"]["id"] == mid
    assert sign(env, "m1", START, scene=scene).json()["created"] is False
    err(sign(env, "m1", START, scene="mtg_nosuchscene"), 422, "qr_invalid")
    err(sign(env, "mb", START, scene=scene), 422, "not_expected")
    assert [(a.member_id, a.method) for a in attendance(env)] == [(env.people["m1"].id, "qr")]


@pytest.mark.parametrize(
    ("payload", "errcode", "named"),
    [
        ({}, "missing_field", "code"),
        ({"code": "123456", "scene": "mtg_x"}, "invalid_field", "scene"),
        ({"code": "  "}, "invalid_field", "code"),
        ({"code": 123456}, "invalid_field", "code"),
        ({"code": "1" * 33}, "invalid_field", "code"),
        ({"scene": "s" * 65}, "invalid_field", "scene"),
        ({"code": "123456", "meeting_id": 1}, "unknown_field", "meeting_id"),
    ],
)
def test_signin_body_validation(env: Env, payload, errcode, named):
    mid = create(env)["id"]
    open_signin(env, mid)
    assert named in err(sign(env, "m1", START, **payload), 400, errcode)
    assert attendance(env) == []


def test_signin_refusals_not_expected_and_cancelled(env: Env):
    committee = create(env, kind="committee")["id"]  # expects the committee: 书记甲 only
    code = open_signin(env, committee)["code"]
    assert "参会范围" in err(sign(env, "m1", START, code=code), 422, "not_expected")
    # another branch's code is wrong for mb: the answer must not tell that the meeting exists
    err(sign(env, "mb", START, code=code), 422, "wrong_code")
    with at(START):
        r = env.api.post(f"{MEETINGS}/{committee}/cancel", token=env.token("sec"))
        assert r.status_code == 200
        r = env.api.post(f"{MEETINGS}/{committee}/signin-code", token=env.token("sec"))
        err(r, 422, "meeting_cancelled")
    assert "已取消" in err(sign(env, "sec", START, code=code), 422, "meeting_cancelled")
    with env.ctx():
        scene = Meeting.get_by_id(committee).qr_scene
    err(sign(env, "sec", START, scene=scene), 422, "meeting_cancelled")
    assert attendance(env) == []


def test_wrong_codes_are_counted_like_the_bot_and_lock_sign_in(make_env):
    env = make_env(api={"login_rate_per_minute": 1000}, meetings={"max_wrong_codes_per_hour": 3})
    mid = create(env)["id"]
    code = open_signin(env, mid, OPENS)["code"]
    wrong = [c for c in ("000000", "111111", "222222", "333333") if c != code][:3]
    m1 = env.people["m1"]
    for w in wrong:
        assert "签到码不正确" in err(sign(env, "m1", OPENS, code=w), 422, "wrong_code")
    with env.ctx():
        counted = RateEvent.select().where(RateEvent.bucket == f"signin:{m1.id}").count()
    assert counted == 3
    assert "次数过多" in err(sign(env, "m1", OPENS, code=code), 429, "too_many_wrong_codes")
    assert sign(env, "admin", OPENS, code=code).status_code == 201  # others are not locked
    # An hour later the count has aged out (the window is still open).
    almost = OPENS + timedelta(minutes=59, seconds=59)
    err(sign(env, "m1", almost, code=code), 429, "too_many_wrong_codes")
    later = sign(env, "m1", OPENS + timedelta(hours=1, seconds=1), code=code)
    assert later.status_code == 201, later.text
    assert [a.member_id for a in attendance(env)] == [env.people["admin"].id, m1.id]


def test_letters_are_refused_without_being_counted(env: Env):
    mid = create(env)["id"]
    open_signin(env, mid)
    err(sign(env, "m1", START, code="abc"), 422, "wrong_code")
    with env.ctx():
        assert RateEvent.select().where(RateEvent.bucket.startswith("signin:")).count() == 0


def test_signin_rate_limit_per_account(make_env):
    env = make_env(api={"login_rate_per_minute": 1000, "signin_rate_per_minute": 2})
    mid = create(env)["id"]
    code = open_signin(env, mid)["code"]
    assert sign(env, "m1", START, code=code).status_code == 201
    assert sign(env, "m1", START, code=code).status_code == 200
    err(sign(env, "m1", START, code=code), 429, "rate_limited")
    err(sign(env, "m1", START, scene="mtg_whatever"), 429, "rate_limited")
    assert sign(env, "admin", START, code=code).status_code == 201  # per account
    assert sign(env, "m1", START + timedelta(seconds=61), code=code).status_code == 200
    with env.ctx():
        bucket = f"api-signin:member:{env.people['m1'].id}"
        assert RateEvent.select().where(RateEvent.bucket == bucket).count() == 3
    assert len(attendance(env)) == 2


# ---- opening sign-in and the QR code --------------------------------------------------------


def test_open_signin_makes_the_qr_once_and_keeps_the_code(env: Env):
    mid = create(env)["id"]
    first = open_signin(env, mid)
    qr = first["qr"]
    assert qr is not None and qr["url"].startswith(env.fake.base_url)
    meeting = meeting_row(env, mid)
    with at(START):  # the fake's QR codes expire on its (travelled) clock
        assert env.fake.qrcode_scene(qr["ticket"]) == meeting.qr_scene
    assert (meeting.qr_ticket, meeting.qr_url) == (qr["ticket"], qr["url"])
    assert meeting.signin_code == first["code"]
    assert datetime.fromisoformat(qr["expires_at"]) > CLOSES
    again = open_signin(env, mid, START + timedelta(minutes=5))
    assert again["code"] == first["code"] and again["qr"] == qr
    assert again["meeting"]["id"] == mid


def test_open_signin_uses_the_qr_the_job_made(env: Env):
    mid = create(env)["id"]
    with at(START - timedelta(hours=2)):
        result = env.app.test_cli_runner().invoke(args=["meetings", "qr"])
    assert result.exit_code == 0, result.output
    made = meeting_row(env, mid)
    assert made.qr_ticket
    assert open_signin(env, mid)["qr"]["ticket"] == made.qr_ticket


def test_open_signin_answers_the_code_when_wechat_fails(env: Env):
    mid = create(env)["id"]
    env.fake.inject("/cgi-bin/qrcode/create", errcode=-1, errmsg="system error", times=1)
    opened = open_signin(env, mid)
    assert opened["qr"] is None and opened["code"].isdigit()
    assert meeting_row(env, mid).qr_ticket is None
    # The code works without the QR; the next call makes the QR.
    assert sign(env, "m1", START, code=opened["code"]).status_code == 201
    retry = open_signin(env, mid, START + SEC)
    assert retry["code"] == opened["code"] and retry["qr"] is not None
    assert meeting_row(env, mid).qr_ticket == retry["qr"]["ticket"]


# ---- leave ----------------------------------------------------------------------------------


def test_leave_requests_and_refusals(env: Env):
    lesson = create(env)["id"]
    committee = create(env, kind="committee", starts_at="2026-12-04T09:00:00+08:00")["id"]
    m1 = env.people["m1"]
    path = f"{MEETINGS}/{lesson}/leave"
    with at(NOW):
        token = env.token("m1")
        r = env.api.post(path, token=token, json={"reason": "出差在外"})
        assert r.status_code == 201, r.text
        record = r.json()["attendance"]
        assert (record["status"], record["leave_status"], record["leave_reason"]) == (
            "leave",
            "pending",
            "出差在外",
        )
        assert r.json()["meeting"]["my_state"] == "leave_pending"
        r = env.api.post(path, token=token, json={"reason": "家中有事"})
        assert r.status_code == 200 and r.json()["attendance"]["id"] == record["id"]
        assert "reason" in err(env.api.post(path, token=token, json={}), 400, "missing_field")
        r = env.api.post(path, token=token, json={"reason": "  "})
        assert "reason" in err(r, 400, "invalid_field")
        r = env.api.post(path, token=token, json={"reason": "字" * 201})
        assert "reason" in err(r, 400, "invalid_field")
        r = env.api.post(path, token=token, json={"reason": "x", "days": 2})
        assert "days" in err(r, 400, "unknown_field")
        r = env.api.post(f"{MEETINGS}/{committee}/leave", token=token, json={"reason": "有事"})
        err(r, 422, "not_expected")
    with at(START + SEC):
        r = env.api.post(path, token=env.token("m2"), json={"reason": "迟到了"})
        err(r, 403, "not_bound")  # m2 uses the official account only
        r = env.api.post(path, token=env.token("admin"), json={"reason": "迟到了"})
        assert "会议开始后" in err(r, 422, "leave_closed")
    with at(NOW):
        code_meeting = create(env, kind="theme_day", starts_at="2026-11-26T10:20:00+08:00")["id"]
        token = env.token("m1")
        code = env.api.post(
            f"{MEETINGS}/{code_meeting}/signin-code", token=env.token("sec")
        ).json()["code"]
        assert env.api.post(f"{MEETINGS}/signin", token=token, json={"code": code}).ok
        r = env.api.post(f"{MEETINGS}/{code_meeting}/leave", token=token, json={"reason": "有事"})
        err(r, 422, "already_signed_in")
        r = env.api.post(f"{MEETINGS}/{committee}/cancel", token=env.token("sec"))
        assert r.status_code == 200
        r = env.api.post(
            f"{MEETINGS}/{committee}/leave", token=env.token("sec"), json={"reason": "有事"}
        )
        err(r, 422, "meeting_cancelled")
    rows = attendance(env)
    assert [(a.meeting_id, a.member_id, a.status, a.leave_reason) for a in rows] == [
        (lesson, m1.id, "leave", "家中有事"),
        (code_meeting, m1.id, "present", ""),
    ]


def test_leave_decisions_by_id(env: Env):
    mid = create(env)["id"]
    with at(NOW):
        asked = {}
        for who, reason in (("m1", "出差在外"), ("admin", "培训")):
            r = env.api.post(
                f"{MEETINGS}/{mid}/leave", token=env.token(who), json={"reason": reason}
            )
            asked[who] = r.json()["attendance"]["id"]
        token = env.token("sec")
        leaves = env.api.get(f"{MEETINGS}/{mid}/leaves", token=token).json()
        assert [(x["id"], x["reason"], x["status"]) for x in leaves["pending"]] == [
            (asked["m1"], "出差在外", "pending"),
            (asked["admin"], "培训", "pending"),
        ]
        assert leaves["decided"] == []
        decide = f"{MEETINGS}/leaves/{asked['m1']}/decision"
        r = env.api.post(decide, token=token, json={"approve": True})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved"
        assert r.json()["decided_by"] == {"id": env.people["sec"].id, "name": "书记甲"}
        assert "approve" in err(env.api.post(decide, token=token, json={}), 400, "missing_field")
        r = env.api.post(decide, token=token, json={"approve": "yes"})
        assert "approve" in err(r, 400, "invalid_field")
        r = env.api.post(decide, token=token, json={"approve": True, "note": "同意"})
        assert "note" in err(r, 400, "unknown_field")
        err(
            env.api.post(f"{MEETINGS}/leaves/999999/decision", token=token, json={"approve": 1}),
            400,
            "invalid_field",
        )
        r = env.api.post(
            f"{MEETINGS}/leaves/999999/decision", token=token, json={"approve": False}
        )
        err(r, 404, "not_found")
        r = env.api.post(
            f"{MEETINGS}/leaves/{asked['admin']}/decision", token=token, json={"approve": False}
        )
        assert r.json()["status"] == "rejected"
        leaves = env.api.get(f"{MEETINGS}/{mid}/leaves", token=token).json()
        assert leaves["pending"] == []
        assert [(x["id"], x["status"]) for x in leaves["decided"]] == [
            (asked["m1"], "approved"),
            (asked["admin"], "rejected"),
        ]
    with env.ctx():
        row = Attendance.get_by_id(asked["m1"])
    assert (row.leave_status, row.decided_by_id) == ("approved", env.people["sec"].id)
    # Asked leave, then signed in: nothing left to decide, the decision stays as it was.
    code = open_signin(env, mid)["code"]
    assert sign(env, "admin", START, code=code).json()["attendance"]["id"] == asked["admin"]
    # A sign-in that never was a leave request is no leave request.
    plain = sign(env, "sec", START, code=code).json()["attendance"]["id"]
    with at(START):
        token = env.token("sec")
        r = env.api.post(
            f"{MEETINGS}/leaves/{asked['admin']}/decision", token=token, json={"approve": True}
        )
        err(r, 422, "already_signed_in")
        r = env.api.post(
            f"{MEETINGS}/leaves/{plain}/decision", token=token, json={"approve": True}
        )
        err(r, 404, "not_found")
    with env.ctx():
        row = Attendance.get_by_id(asked["admin"])
    assert (row.status, row.leave_status) == ("present", "rejected")


def test_a_leave_is_decided_once_and_only_before_its_meeting_ends(env: Env):
    """The bot's rule: a decided request is 409, one of an ended meeting 422 meeting_ended."""
    mid = create(env)["id"]
    with at(NOW):
        asked = {}
        for who in ("m1", "admin"):
            r = env.api.post(
                f"{MEETINGS}/{mid}/leave", token=env.token(who), json={"reason": "有事"}
            )
            asked[who] = r.json()["attendance"]["id"]
        token = env.token("sec")
        decide = f"{MEETINGS}/leaves/{asked['m1']}/decision"
        assert env.api.post(decide, token=token, json={"approve": True}).status_code == 200
        r = env.api.post(decide, token=token, json={"approve": False})
        assert "已批准，不能再更改" in err(r, 409, "leave_decided")
    with at(START + timedelta(days=60)):
        token = env.token("sec")
        err(env.api.post(decide, token=token, json={"approve": False}), 409, "leave_decided")
        r = env.api.post(
            f"{MEETINGS}/leaves/{asked['admin']}/decision", token=token, json={"approve": True}
        )
        assert "已于" in err(r, 422, "meeting_ended")
    with env.ctx():
        rows = {a.id: a.leave_status for a in Attendance.select()}
    assert rows == {asked["m1"]: "approved", asked["admin"]: "pending"}


# ---- 补签 and the report ---------------------------------------------------------------------


def test_mark_present_and_the_report_after_the_meeting(env: Env):
    people = env.people
    mid = create(env, kind="general", ends_at="2026-12-03T17:00:00+08:00")["id"]
    path = f"{MEETINGS}/{mid}/attendance"
    with at(NOW):
        r = env.api.post(f"{MEETINGS}/{mid}/leave", token=env.token("m1"), json={"reason": "出差"})
        leave_id = r.json()["attendance"]["id"]
        token = env.token("sec")
        env.api.post(f"{MEETINGS}/leaves/{leave_id}/decision", token=token, json={"approve": True})
        r = env.api.post(path, token=token, json={"member_ids": [people["m2"].id]})
        assert "签到尚未开始" in err(r, 422, "signin_not_open")
    code = open_signin(env, mid)["code"]
    assert sign(env, "sec", START, code=code).status_code == 201
    with at(START + timedelta(minutes=10)):
        token = env.token("sec")
        r = env.api.post(
            path, token=token, json={"member_ids": [people["m2"].id, people["admin"].id]}
        )
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [(i["created"], i["attendance"]["member"]["id"]) for i in items] == [
            (True, people["m2"].id),
            (True, people["admin"].id),
        ]
        assert items[0]["attendance"]["recorded_by"]["id"] == people["sec"].id
        assert items[0]["attendance"]["method"] == "manual"
        again = env.api.post(path, token=token, json={"member_ids": [people["m2"].id]})
        assert again.json()["items"][0]["created"] is False
        r = env.api.post(
            path, token=token, json={"member_ids": [people["new"].id, people["mb"].id]}
        )
        assert str(people["mb"].id) in err(r, 422, "not_expected")
        assert "member_ids" in err(
            env.api.post(path, token=token, json={"member_ids": []}), 400, "invalid_field"
        )
        r = env.api.post(path, token=token, json={"member_ids": ["党员丁"]})
        assert "member_ids" in err(r, 400, "invalid_field")
        live = env.api.get(path, token=token).json()
        assert live["ended"] is False and [p["name"] for p in live["absent"]] == ["新党员"]
    with at(START + timedelta(hours=3)):
        report = env.api.get(path, token=env.token("sec")).json()
    assert report["ended"] is True
    assert (report["expected_count"], report["present_count"], report["rate"]) == (5, 3, 0.6)
    assert [(p["name"], p["method"]) for p in report["present"]] == [
        ("书记甲", "code"),
        ("党员丁", "manual"),
        ("党委管理员", "manual"),
    ]
    assert report["leave_approved"] == [
        {"id": people["m1"].id, "name": "党员丙", "reason": "出差"}
    ]
    assert report["leave_pending"] == [] and report["leave_rejected"] == []
    assert report["absent"] == [{"id": people["new"].id, "name": "新党员"}]
    assert report["quorum"] == {"voters": "full_members", "needed": 3, "present": 3, "met": True}
    manual = [a for a in attendance(env, mid) if a.method == "manual"]
    assert [(a.member_id, a.recorded_by_id) for a in manual] == [
        (people["m2"].id, people["sec"].id),
        (people["admin"].id, people["sec"].id),
    ]
    assert people["new"].id not in {a.member_id for a in attendance(env, mid)}


def test_mark_present_refused_on_a_cancelled_meeting(env: Env):
    mid = create(env)["id"]
    with at(START):
        token = env.token("sec")
        assert env.api.post(f"{MEETINGS}/{mid}/cancel", token=token).status_code == 200
        r = env.api.post(
            f"{MEETINGS}/{mid}/attendance",
            token=token,
            json={"member_ids": [env.people["m1"].id]},
        )
        err(r, 422, "meeting_cancelled")
        report = env.api.get(f"{MEETINGS}/{mid}/attendance", token=token).json()
    assert report["meeting"]["status"] == "cancelled" and report["quorum"] is None
    assert attendance(env) == []


# ---- API and bot leave the same records ------------------------------------------------------


def _row(a: Attendance) -> dict[str, Any]:
    data = dict(a.__data__)
    for key in ("id", "member"):
        data.pop(key)
    return data


def test_signin_and_leave_through_api_and_bot_leave_identical_records(env: Env):
    lesson = create(env)["id"]
    later = create(env, kind="theme_day", starts_at="2026-12-10T09:00:00+08:00")["id"]
    driver = make_driver(env.settings, env.server.url)
    m1, m2 = env.people["m1"], env.people["m2"]
    with at(NOW):
        r = env.api.post(
            f"{MEETINGS}/{later}/leave", token=env.token("m1"), json={"reason": "出差在外"}
        )
        assert r.status_code == 201, r.text
        reply = driver.send_text("oa-m2", f"请假 {later} 出差在外").reply
        assert reply.startswith("已提交请假"), reply
    code = open_signin(env, lesson)["code"]
    with at(START):
        r = env.api.post(f"{MEETINGS}/signin", token=env.token("m1"), json={"code": code})
        assert r.status_code == 201, r.text
        reply = driver.send_text("oa-m2", f"签到 {code}").reply
        assert reply.startswith("签到成功"), reply
    with env.ctx():

        def of(mid: int, member_id: int) -> Attendance:
            return Attendance.get((Attendance.meeting == mid) & (Attendance.member == member_id))

        api_sign, bot_sign = of(lesson, m1.id), of(lesson, m2.id)
        api_leave, bot_leave = of(later, m1.id), of(later, m2.id)
    assert _row(api_sign) == _row(bot_sign)
    assert (api_sign.status, api_sign.method, api_sign.at) == ("present", "code", START)
    assert _row(api_leave) == _row(bot_leave)
    assert (api_leave.status, api_leave.leave_status, api_leave.leave_reason, api_leave.at) == (
        "leave",
        "pending",
        "出差在外",
        NOW,
    )
