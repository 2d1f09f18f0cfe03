"""Scan sign-in with QR codes made through the fake WeChat, the meetings CLI, 本月/本季度."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.fake import FakeWeChat
from models.base import db
from models.meetings import Attendance, Meeting
from tests import factories as f
from tests.support.apps import LiveServer, make_app, make_driver

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)
START = datetime(2026, 12, 3, 15, 0, tzinfo=SH)


@pytest.fixture
def fake(settings):
    wechat = settings.wechat
    with FakeWeChat(appid=wechat.app_id, secret=wechat.app_secret) as server:
        yield server


@pytest.fixture
def env(db_url, fake):
    """An app whose WeChat API is the fake, served live, with a branch and bound people."""
    app = make_app(db_url, wechat={"api_base_url": fake.base_url})
    server = LiveServer(app).start()
    with app.app_context(), db.connection_context():
        a = f.branch("第一党支部")
        people = {
            "sec": f.member("书记甲", a, roles="secretary"),
            "m1": f.member("党员丙", a),
            "new": f.member("新党员", a),
        }
        openids = {k: f.bound(p, f"oid-{k}") for k, p in people.items() if k != "new"}
        with time_machine.travel(START - timedelta(days=1)):
            code = f.code_for(people["new"], app.config["ZHIBU"])
    driver = make_driver(app.config["ZHIBU"], server.url)
    yield {"app": app, "driver": driver, "people": people, "openid": openids, "code": code}
    server.stop()


def say(env, who, text):
    return env["driver"].send_text(env["openid"].get(who, who), text).reply


def make_qr(env):
    result = env["app"].test_cli_runner().invoke(args=["meetings", "qr"])
    assert result.exit_code == 0, result.output
    return result.output


def schedule(env):
    with time_machine.travel(NOW, tick=False):
        reply = say(env, "sec", "会议 党课 12月3日 15:00 三楼 学习党章")
    assert reply.startswith("已安排会议"), reply
    with db.connection_context():
        return Meeting.get()


def test_scan_by_a_follower_signs_in(env, fake):
    meeting = schedule(env)
    with time_machine.travel(START - timedelta(hours=2), tick=False):
        assert "QR codes made: 1, failed: 0" in make_qr(env)
        assert "QR codes made: 0" in make_qr(env)  # made once
    with db.connection_context():
        meeting = Meeting.get_by_id(meeting.id)
    assert fake.qrcode_scene(meeting.qr_ticket) == meeting.qr_scene
    assert meeting.qr_url.startswith(fake.base_url)
    with time_machine.travel(START, tick=False):
        assert meeting.qr_url in say(env, "sec", "开始签到")
        xml = env["driver"].scan_xml("oid-m1", meeting.qr_scene, follower=True)
        reply = env["driver"].deliver(xml).reply
        assert reply.startswith("签到成功") and "学习党章" in reply
        # A second scan a second later (the same second would be WeChat's retry).
        again = env["driver"].scan_xml(
            "oid-m1", meeting.qr_scene, follower=True, create_time=int(START.timestamp()) + 1
        )
        assert "无需重复签到" in env["driver"].deliver(again).reply
    with db.connection_context():
        assert [(a.member_id, a.method) for a in Attendance.select()] == [
            (env["people"]["m1"].id, "qr")
        ]


def test_scan_by_a_newcomer_asks_to_bind_then_signs_in_once_bound(env):
    meeting = schedule(env)
    d = env["driver"]
    with time_machine.travel(START - timedelta(minutes=10), tick=False):
        reply = d.deliver(d.scan_xml("newcomer", meeting.qr_scene, follower=False)).reply
        assert "绑定 绑定码" in reply and "绑定后将自动为您签到" in reply
        bound = d.send_text("newcomer", f"绑定 {env['code']}").reply
    assert "绑定成功" in bound and "已为您完成签到" in bound
    with db.connection_context():
        (row,) = Attendance.select()
    assert (row.member_id, row.method) == (env["people"]["new"].id, "qr")


def test_a_newcomer_binding_after_the_window_is_told(env):
    meeting = schedule(env)
    d = env["driver"]
    with time_machine.travel(START + timedelta(minutes=50), tick=False):
        d.deliver(d.scan_xml("late", meeting.qr_scene, follower=False))
    with time_machine.travel(START + timedelta(minutes=70), tick=False):
        reply = d.send_text("late", f"绑定 {env['code']}").reply
    assert "绑定成功" in reply and "扫码签到未成功" in reply and "补签" in reply
    with db.connection_context():
        assert Attendance.select().count() == 0


def test_unknown_or_cancelled_scenes_are_refused(env):
    meeting = schedule(env)
    d = env["driver"]
    with time_machine.travel(START, tick=False):
        assert "已取消" in say(env, "sec", f"取消会议 {meeting.id}")
        reply = d.deliver(d.scan_xml("oid-m1", meeting.qr_scene)).reply
        assert "已取消" in reply
        assert d.deliver(d.scan_xml("oid-m1", "mtg_nosuchscene")).reply.startswith("这个二维码")


def test_qr_failures_are_reported_and_retried_later(env, fake):
    schedule(env)
    fake.inject("/cgi-bin/qrcode/create", errcode=-1, errmsg="system error", times=1)
    with time_machine.travel(START - timedelta(hours=1), tick=False):
        result = env["app"].test_cli_runner().invoke(args=["meetings", "qr"])
        assert result.exit_code == 1 and "failed: 1" in result.output
        assert "QR codes made: 1, failed: 0" in make_qr(env)


def test_meetings_cli_create_and_list(env):
    runner = env["app"].test_cli_runner()
    with time_machine.travel(NOW, tick=False):
        ok = runner.invoke(
            args=[
                "meetings",
                "create",
                "--branch",
                "第一党支部",
                "--kind",
                "theme_day",
                "--when",
                "12月5日 9:00-11:00",
                "--place",
                "社区广场",
                "--title",
                "志愿服务",
            ]
        )
        assert ok.exit_code == 0 and "已安排：【编号1】主题党日《志愿服务》" in ok.output
        listed = runner.invoke(args=["meetings", "list"])
        assert "第一党支部" in listed.output and "QR –" in listed.output
        bad = runner.invoke(
            args=[
                "meetings",
                "create",
                "--branch",
                "无此支部",
                "--kind",
                "lesson",
                "--when",
                "12月5日 9:00",
            ]
        )
        assert bad.exit_code == 1 and "找不到" in bad.output
        past = runner.invoke(
            args=[
                "meetings",
                "create",
                "--branch",
                "第一党支部",
                "--kind",
                "lesson",
                "--when",
                "2026年11月1日 9:00",
            ]
        )
        assert past.exit_code == 1 and "已经过去" in past.output
        edited = runner.invoke(
            args=["meetings", "edit", "1", "--place", "党群服务中心", "--host", "书记甲"]
        )
        assert edited.exit_code == 0 and "党群服务中心" in edited.output, edited.output
        bad = runner.invoke(args=["meetings", "edit", "1", "--host", "无此人"])
        assert bad.exit_code == 1 and "无此人" in bad.output
        nothing = runner.invoke(args=["meetings", "edit", "1"])
        assert nothing.exit_code == 1 and "没有要修改的内容" in nothing.output
        cancelled = runner.invoke(args=["meetings", "cancel", "1"])
        assert cancelled.exit_code == 0 and "已取消" in cancelled.output
        assert "已经取消过" in runner.invoke(args=["meetings", "cancel", "1"]).output
    with db.connection_context():
        (meeting,) = Meeting.select()
    assert (meeting.place, meeting.status) == ("党群服务中心", "cancelled")
    assert meeting.host_id == env["people"]["sec"].id


def test_month_and_quarter_views_for_the_secretary(env):
    with time_machine.travel(NOW, tick=False):
        month = say(env, "sec", "本月")
        quarter = say(env, "sec", "本季度")
        assert "只有支部书记" in say(env, "m1", "本月")
    assert "第一党支部" in month and "支部委员会会议" in month and "主题党日" in month
    assert "第4季度" in quarter and "支部党员大会" in quarter
