"""The console's meeting pages over HTTP: list and month, schedule, edit, cancel, the sign-in
page, 补签, leave decisions, minutes; each write through the handler the bot and API call."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from handlers import meetings as h
from handlers.errors import DomainError, Forbidden
from models.base import db
from models.meetings import Attendance, Meeting, MeetingAttendee
from tests import factories as f
from tests.support.console import csrf_token, link_for, login, post

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # a Thursday
START = datetime(2026, 12, 3, 15, 0, tzinfo=SH)
FORM = {"kind": "lesson", "when": "12月3日 15:00", "place": "三楼会议室", "title": "学习党章"}


def at(moment: datetime) -> Any:
    return time_machine.travel(moment, tick=False)


@pytest.fixture
def org(app: Any) -> dict[str, Any]:
    with app.app_context(), db.connection_context():
        committee = f.committee("测试党委")
        a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
        g = f.group(a, "第一党小组")
        people = {
            "sec": f.member("王书记", a, roles="secretary", phone="13800000001"),
            "m1": f.member("张党员", a, party_group=g, phone="13800000002"),
            "m2": f.member("刘党员", a, phone="13800000003"),
            "secb": f.member("李书记", b, roles="secretary", phone="13800000004"),
            "admin": f.member("赵管理员", b, roles="committee_admin", phone="13800000005"),
        }
        f.bound(people["sec"], "openid-sec")
        f.bound(people["m1"], "openid-m1")
        f.bound(people["m2"], "openid-m2")
    return {"a": a, "b": b, "group": g, **people}


@pytest.fixture
def fake_qr(settings: Any, fake: Any) -> Any:
    """The app's WeChat API is the fake, which makes the meetings' sign-in QR codes."""
    settings.wechat.api_base_url = fake.base_url
    return fake


def base(org: dict[str, Any]) -> str:
    return f"/console/branch/{org['a'].id}/meetings"


def schedule(app: Any, org: dict[str, Any], **changes: str) -> int:
    """Schedule a meeting through the console's form (at NOW) and return its id."""
    with at(NOW):
        client = login(app, org["sec"])
        done = post(client, base(org) + "/new", {**FORM, **changes})
    assert done.status_code == 303, done.text
    return int(done.headers["Location"].rsplit("/", 1)[1])


def meeting(app: Any, meeting_id: int) -> Meeting:
    with app.app_context(), db.connection_context():
        return Meeting.get_by_id(meeting_id)


def expected_ids(app: Any, meeting_id: int) -> set[int]:
    with app.app_context(), db.connection_context():
        rows = MeetingAttendee.select().where(MeetingAttendee.meeting == meeting_id)
        return {r.member_id for r in rows}


def row_of(app: Any, meeting_id: int, member: Any) -> Attendance | None:
    with app.app_context(), db.connection_context():
        return Attendance.get_or_none(
            (Attendance.meeting == meeting_id) & (Attendance.member == member.id)
        )


def test_a_meeting_scheduled_in_the_console_is_recorded_as_the_bot_records_it(app, org, wechat):
    with at(NOW):
        client = login(app, org["sec"])
        form = client.get(base(org) + "/new")
        assert form.status_code == 200 and 'name="csrf_token"' in form.text
        assert "党小组会" in form.text and "第一党小组" in form.text and "<label>时间" in form.text
    mid = schedule(app, org)
    with at(NOW):
        reply = wechat.send_text("openid-sec", "会议 党课 12月4日 15:00 三楼会议室 学习党章").reply
    bot_id = int(reply.split("【编号")[1].split("】")[0])
    web, bot = meeting(app, mid), meeting(app, bot_id)
    fields = ("kind", "place", "title", "status", "branch_id", "created_by_id", "party_group_id")
    assert [getattr(web, k) for k in fields] == [getattr(bot, k) for k in fields]
    assert web.starts_at == START and bot.starts_at == START + timedelta(days=1)
    assert web.ends_at - web.starts_at == bot.ends_at - bot.starts_at == timedelta(minutes=90)
    assert (
        expected_ids(app, mid)
        == expected_ids(app, bot_id)
        == {org[k].id for k in ("sec", "m1", "m2")}
    )
    group = schedule(app, org, kind="group", when="12月5日 9:00", group_id=str(org["group"].id))
    assert meeting(app, group).party_group_id == org["group"].id
    assert expected_ids(app, group) == {org["m1"].id}


def test_the_list_and_the_month_show_the_meeting(app, org):
    mid = schedule(app, org)
    with at(NOW):
        client = login(app, org["sec"])
        listing = client.get(base(org))
        assert listing.status_code == 200 and "即将召开" in listing.text
        assert f"/meetings/{mid}" in listing.text and "党课《学习党章》" in listing.text
        assert "12月3日（周四）15:00–16:30" in listing.text
        month = client.get(base(org) + "/month?month=2026-12")
        assert month.status_code == 200 and "2026年12月会议" in month.text
        cell = re.search(r'<span class="day">3</span>(.*?)</td>', month.text, re.S)
        assert cell and "15:00 党课" in cell.group(1)
        assert "党课" not in client.get(base(org) + "/month?month=2026-11").text.split("<table")[1]
        assert client.get(base(org) + "/month?month=2026-13").status_code == 404
        assert 'aria-current="page">会议' in listing.text  # the menu's entry


def test_a_bad_time_shows_the_handlers_message_and_writes_nothing(app, org):
    with at(NOW):
        client = login(app, org["sec"])
        bad = post(client, base(org) + "/new", {**FORM, "when": "12月33日 15:00"})
        assert bad.status_code == 400
        assert "12月没有33日" in bad.text and 'role="alert"' in bad.text
        assert 'value="三楼会议室"' in bad.text and 'value="12月33日 15:00"' in bad.text
        past = post(client, base(org) + "/new", {**FORM, "when": "2026-11-20 15:00"})
        assert past.status_code == 400 and "已经过去" in past.text
        extra = post(client, base(org) + "/new", {**FORM, "when": "12月3日 15:00 三楼"})
        assert extra.status_code == 400 and "地点和主题请填在各自的栏中" in extra.text
        group = post(client, base(org) + "/new", {**FORM, "kind": "group"})
        assert group.status_code == 400 and "group_id" in group.text
    with app.app_context(), db.connection_context():
        assert Meeting.select().count() == 0


def test_edit_then_cancel(app, org):
    mid = schedule(app, org)
    page = f"{base(org)}/{mid}"
    with at(NOW):
        client = login(app, org["sec"])
        form = client.get(page + "/edit")
        assert 'value="2026-12-03 15:00-16:30"' in form.text and 'value="学习党章"' in form.text
        same_time = {"original_when": "2026-12-03 15:00-16:30", "title": "学习党章"}
        kept = post(client, page + "/edit", {**same_time, "when": same_time["original_when"]})
        assert kept.status_code == 303
        done = post(
            client,
            page + "/edit",
            {**same_time, "when": "12月4日 9:30-11:00", "place": "二楼会议室"},
        )
        assert done.status_code == 303 and done.headers["Location"].endswith(f"/meetings/{mid}")
        changed = meeting(app, mid)
        assert changed.place == "二楼会议室" and changed.title == "学习党章"
        assert changed.starts_at == datetime(2026, 12, 4, 9, 30, tzinfo=SH)
        assert changed.ends_at == datetime(2026, 12, 4, 11, 0, tzinfo=SH)
        confirm = client.get(page + "/cancel")
        assert confirm.status_code == 200 and "确定要取消" in confirm.text
        assert meeting(app, mid).status == "scheduled"  # the GET only asks
        gone = post(client, page + "/cancel")
        assert gone.status_code == 303
        assert meeting(app, mid).status == "cancelled"
        assert "已取消" in client.get(page).text
        again = post(client, page + "/edit", {**same_time, "when": "12月5日 9:30"}, page=page)
        assert again.status_code == 400 and "已取消，不能修改" in again.text


def test_the_signin_page_shows_the_code_and_qr_and_follows_sign_ins(app, org, wechat, fake_qr):
    mid = schedule(app, org)
    page = f"{base(org)}/{mid}"
    with at(START - timedelta(minutes=10)):
        client = login(app, org["sec"])
        shown = client.get(page + "/signin")
        assert shown.status_code == 200, shown.text
        code = re.search(r'<p class="signin-code"[^>]*>(\d+)</p>', shown.text).group(1)
        assert len(code) == 6 and code == meeting(app, mid).signin_code
        assert "<svg" in shown.text and "https://" not in shown.text.split("<svg")[1][:400]
        assert 'hx-trigger="every 3s"' in shown.text
        partial = page + "/signin/attendance"
        before = client.get(partial, headers={"HX-Request": "true"})
        assert "<html" not in before.text and "张党员" in before.text
        assert re.search(r"<dt>实到</dt><dd>0</dd>", before.text)
        reply = wechat.send_text("openid-m1", f"签到 {code}").reply
        assert reply.startswith("签到成功"), reply
        after = client.get(partial, headers={"HX-Request": "true"}).text
        assert re.search(r"<dt>实到</dt><dd>1</dd>", after)
        signed = after.split("已签到（1）")[1].split("</section>")[0]
        assert "张党员" in signed and "刘党员" not in signed
        assert client.get(page + "/signin").text.count(code) >= 1  # the same code again
    assert row_of(app, mid, org["m1"]).method == "code"


def test_mark_present_by_hand(app, org):
    mid = schedule(app, org)
    page = f"{base(org)}/{mid}"
    with at(NOW):
        client = login(app, org["sec"])
        assert "为刘党员补签" not in client.get(page).text  # sign-in has not opened
        early = post(client, page + "/present", {"member_id": org["m2"].id}, page=page)
        assert early.status_code == 400 and "后才能补签" in early.text
    with at(START + timedelta(minutes=20)):
        client = login(app, org["sec"])
        assert "为刘党员补签" in client.get(page).text
        done = post(client, page + "/present", {"member_id": org["m2"].id}, page=page)
        assert done.status_code == 303
        stranger = post(client, page + "/present", {"member_id": org["secb"].id}, page=page)
        assert stranger.status_code == 400 and "参会名单中没有编号为" in stranger.text
    row = row_of(app, mid, org["m2"])
    assert row.status == "present" and row.method == "manual"
    assert row.recorded_by_id == org["sec"].id
    assert row_of(app, mid, org["secb"]) is None


def test_a_leave_request_is_approved_on_the_meetings_page(app, org, wechat):
    mid = schedule(app, org)
    page = f"{base(org)}/{mid}"
    with at(NOW):
        assert "已提交请假" in wechat.send_text("openid-m2", f"请假 {mid} 出差在外").reply
        client = login(app, org["sec"])
        shown = client.get(page).text
        assert "出差在外" in shown and "批准刘党员的请假" in shown
        leave_id = row_of(app, mid, org["m2"]).id
        path = f"{page}/leaves/{leave_id}"
        done = post(client, path, {"decision": "approve"}, page=page)
        assert done.status_code == 303
        row = row_of(app, mid, org["m2"])
        assert row.leave_status == "approved" and row.decided_by_id == org["sec"].id
        again = post(client, path, {"decision": "reject"}, page=page)
        assert again.status_code == 400 and "已批准，不能再更改" in again.text
        assert "已批准（王书记）" in client.get(page).text


def send_minutes(client: Any, path: str, page: str, minutes: str, decisions: str) -> Any:
    """Post the minutes form as the browser does (multipart, as its enctype says)."""
    html = client.get(page).text
    assert 'enctype="multipart/form-data"' in html
    data = {"minutes": minutes, "decisions": decisions, "csrf_token": csrf_token(html)}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_minutes_and_decisions_are_recorded_within_their_limits(app, org, settings):
    mid = schedule(app, org)
    page = f"{base(org)}/{mid}"
    path = page + "/minutes"
    limits = settings.meetings
    with at(START + timedelta(hours=2)):
        client = login(app, org["sec"])
        done = send_minutes(client, path, page, "讨论了学习计划", "通过")
        assert done.status_code == 303
        saved = meeting(app, mid)
        assert (saved.minutes, saved.decisions) == ("讨论了学习计划", "通过")
        assert "讨论了学习计划" in client.get(done.headers["Location"]).text
        long = "长" * (limits.minutes_max_chars + 1)
        refused = send_minutes(client, path, page, long, "新决议")
        assert refused.status_code == 400
        assert f"纪要最多 {limits.minutes_max_chars} 字" in refused.text
        assert 'id="minutes-error"' in refused.text and long in refused.text  # what was typed
        many = "决" * (limits.decisions_max_chars + 1)
        refused = send_minutes(client, path, page, "", many)
        assert refused.status_code == 400 and 'id="decisions-error"' in refused.text
        assert f"决议最多 {limits.decisions_max_chars} 字" in refused.text
        saved = meeting(app, mid)
        assert (saved.minutes, saved.decisions) == ("讨论了学习计划", "通过")
        full = ("纪" * limits.minutes_max_chars, "决" * limits.decisions_max_chars)
        assert send_minutes(client, path, page, *full).status_code == 303  # fits the body limit
    saved = meeting(app, mid)
    assert (saved.minutes, saved.decisions) == full


def test_record_minutes_is_the_bots_rule_too(app, org, settings):
    """The limits are settings, and the bot's 修改会议 … 纪要 keeps them as well."""
    mid = schedule(app, org)
    settings.meetings.minutes_max_chars = 10
    with app.app_context(), db.connection_context():
        sec = org["sec"]
        with pytest.raises(DomainError) as exc:
            h.edit_meeting(sec, mid, minutes="字" * 11, now=NOW, settings=settings)
        assert "纪要最多 10 字" in str(exc.value)
        done = h.record_minutes(
            sec, mid, minutes="字" * 10, decisions="", now=NOW, settings=settings
        )
        assert done.summary.meeting.minutes == "字" * 10


def test_other_branches_managers_are_refused_and_committee_admins_act_for_them(app, org):
    mid = schedule(app, org)
    page = f"{base(org)}/{mid}"
    with at(NOW):
        other = login(app, org["secb"])
        for path in (base(org), base(org) + "/month", base(org) + "/new", page, page + "/edit"):
            assert other.get(path).status_code == 403, path
        for path in (page + "/cancel", page + "/signin", page + "/signin/attendance"):
            assert other.get(path).status_code == 403, path
        # Another branch's meeting is not found, as in the API: it does not tell it exists.
        assert other.get(f"/console/branch/{org['b'].id}/meetings/{mid}").status_code == 404
        own = f"/console/branch/{org['b'].id}/meetings"
        assert (
            post(other, page + "/present", {"member_id": org["m1"].id}, page=own).status_code
            == 404
        )
        assert post(other, base(org) + "/new", FORM, page=own).status_code == 403
        admin = login(app, org["admin"])
        assert admin.get(page).status_code == 200
        assert post(admin, base(org) + "/new", {**FORM, "when": "12月6日 9:00"}).status_code == 303
    assert row_of(app, mid, org["m1"]) is None


def test_a_plain_member_cannot_log_in(app, org):
    with pytest.raises(Forbidden):
        link_for(app, org["m1"])
    client = app.test_client()
    answer = client.get(base(org))
    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]
