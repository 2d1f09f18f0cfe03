"""Test the local fake WeChat over real HTTP, with plain requests and with wechatpy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import wechatpy
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.exceptions import WeChatClientException

from bot.fake import FakeClock, FakeWeChat

START = 1_700_000_000.0  # 2023-11-15 06:13:20 Beijing time
APPID = "wxdemoappid000001"
SECRET = "demo-secret"
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"
ROBOT = "demo-robot-1"
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock() -> FakeClock:
    """Return a fake clock frozen at START."""
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeWeChat]:
    """Start a fake WeChat on a free port and stop it afterwards."""
    with FakeWeChat(clock=clock) as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """Return a requests session."""
    with requests.Session() as session:
        yield session


def get_token(fake: FakeWeChat, http: requests.Session, **overrides: str) -> dict[str, Any]:
    """Call /cgi-bin/token and return the decoded answer."""
    params = {"grant_type": "client_credential", "appid": fake.appid, "secret": fake.secret}
    params.update(overrides)
    return http.get(fake.base_url + "/cgi-bin/token", params=params, timeout=5).json()


def stable_token(fake: FakeWeChat, http: requests.Session, force: bool = False) -> dict[str, Any]:
    """Call /cgi-bin/stable_token and return the decoded answer."""
    body = {
        "grant_type": "client_credential",
        "appid": fake.appid,
        "secret": fake.secret,
        "force_refresh": force,
    }
    return http.post(fake.base_url + "/cgi-bin/stable_token", json=body, timeout=5).json()


def api(
    fake: FakeWeChat, http: requests.Session, path: str, token: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST a JSON body to a token-protected endpoint and return the decoded answer."""
    response = http.post(
        fake.base_url + path, params={"access_token": token}, json=body, timeout=5
    )
    assert response.status_code == 200
    return response.json()


def qr_body(scene: str = "meeting-42", expire: int | None = 600) -> dict[str, Any]:
    """Build a QR_STR_SCENE request body."""
    body: dict[str, Any] = {
        "action_name": "QR_STR_SCENE",
        "action_info": {"scene": {"scene_str": scene}},
    }
    if expire is not None:
        body["expire_seconds"] = expire
    return body


def create_qr(
    fake: FakeWeChat, http: requests.Session, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Create a QR code and return the decoded answer."""
    return api(fake, http, "/cgi-bin/qrcode/create", token, body or qr_body())


def template_body(
    touser: str = OPENID, template_id: str = "tpl-meeting", data: Any = None
) -> dict[str, Any]:
    """Build a template/subscribe message body."""
    return {
        "touser": touser,
        "template_id": template_id,
        "data": {"thing1": {"value": "支部大会"}} if data is None else data,
    }


def robot(
    fake: FakeWeChat, http: requests.Session, body: dict[str, Any] | bytes, key: str = ROBOT
) -> dict[str, Any]:
    """Send a group-robot message and return the decoded answer."""
    url = fake.base_url + "/cgi-bin/webhook/send"
    if isinstance(body, bytes):
        response = http.post(url, params={"key": key}, data=body, timeout=5)
    else:
        response = http.post(url, params={"key": key}, json=body, timeout=5)
    assert response.status_code == 200
    return response.json()


def text(content: str, **extra: Any) -> dict[str, Any]:
    """Build a robot text message."""
    return {"msgtype": "text", "text": {"content": content, **extra}}


def jscode(fake: FakeWeChat, http: requests.Session, code: str) -> dict[str, Any]:
    """Call /sns/jscode2session and return the decoded answer."""
    params = {
        "appid": fake.appid,
        "secret": fake.secret,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    return http.get(fake.base_url + "/sns/jscode2session", params=params, timeout=5).json()


# ----- access tokens ------------------------------------------------------------------------


def test_token_is_issued_and_accepted(fake: FakeWeChat, http: requests.Session) -> None:
    answer = get_token(fake, http)
    assert answer["expires_in"] == 7200
    assert "errcode" not in answer
    assert len(answer["access_token"]) > 100
    assert create_qr(fake, http, answer["access_token"])["ticket"]


def test_token_credentials_are_checked_appid_first(
    fake: FakeWeChat, http: requests.Session
) -> None:
    assert get_token(fake, http, appid="wxother", secret="bad")["errcode"] == 40013
    assert get_token(fake, http, secret="bad")["errcode"] == 40125
    assert get_token(fake, http, appid="")["errcode"] == 41002
    assert get_token(fake, http, grant_type="password")["errcode"] == 40002


def test_old_token_stays_valid_for_300_seconds_after_a_new_one(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    old = get_token(fake, http)["access_token"]
    clock.advance(100)
    new = get_token(fake, http)["access_token"]
    assert new != old
    clock.advance(299)
    assert "ticket" in create_qr(fake, http, old)
    clock.advance(2)
    assert create_qr(fake, http, old)["errcode"] == 40001
    assert "ticket" in create_qr(fake, http, new)


def test_token_expires_after_7200_seconds(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    token = get_token(fake, http)["access_token"]
    clock.advance(7199)
    assert "ticket" in create_qr(fake, http, token)
    clock.advance(1)
    assert create_qr(fake, http, token)["errcode"] == 42001


def test_daily_token_quota_gives_45009_until_the_next_day(
    clock: FakeClock, http: requests.Session
) -> None:
    with FakeWeChat(clock=clock, token_quota=3) as fake:
        answers = [get_token(fake, http) for _ in range(3)]
        assert all("access_token" in answer for answer in answers)
        assert get_token(fake, http)["errcode"] == 45009
        assert stable_token(fake, http)["errcode"] == 45009
        clock.advance(86400)
        assert "access_token" in get_token(fake, http)


def test_exhaust_quota_blocks_both_token_endpoints(
    fake: FakeWeChat, http: requests.Session
) -> None:
    assert "access_token" in get_token(fake, http)
    fake.exhaust_quota()
    assert get_token(fake, http)["errcode"] == 45009
    assert stable_token(fake, http)["errcode"] == 45009
    fake.reset()
    assert "access_token" in get_token(fake, http)


def test_revoked_tokens_answer_40001(fake: FakeWeChat, http: requests.Session) -> None:
    token = get_token(fake, http)["access_token"]
    fake.revoke_tokens()
    assert create_qr(fake, http, token)["errcode"] == 40001
    fresh = get_token(fake, http)["access_token"]
    assert "ticket" in create_qr(fake, http, fresh)


def test_missing_unknown_and_foreign_tokens_answer_40001(
    fake: FakeWeChat, http: requests.Session
) -> None:
    url = fake.base_url + "/cgi-bin/qrcode/create"
    assert http.post(url, json=qr_body(), timeout=5).json()["errcode"] == 40001
    assert create_qr(fake, http, "not-a-token")["errcode"] == 40001
    corp = http.get(
        fake.base_url + "/cgi-bin/gettoken",
        params={"corpid": fake.corp_id, "corpsecret": fake.corp_secret},
        timeout=5,
    ).json()["access_token"]
    assert create_qr(fake, http, corp)["errcode"] == 40001


def test_stable_token_is_reused_then_renewed_before_expiry(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    first = stable_token(fake, http)
    assert first["expires_in"] == 7200
    clock.advance(1000)
    again = stable_token(fake, http)
    assert again["access_token"] == first["access_token"]
    assert again["expires_in"] == 6200
    plain = get_token(fake, http)["access_token"]
    clock.advance(7200 - 1000 - 301)  # 301 s left: still the same token
    assert stable_token(fake, http)["access_token"] == first["access_token"]
    assert "ticket" in create_qr(fake, http, plain)
    clock.advance(2)  # 299 s left: renewed
    renewed = stable_token(fake, http)
    assert renewed["access_token"] != first["access_token"]
    assert renewed["expires_in"] == 7200
    assert "ticket" in create_qr(fake, http, first["access_token"])
    assert fake.token_calls == 5


def test_stable_token_force_refresh_issues_a_new_one_with_grace(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    first = stable_token(fake, http)["access_token"]
    forced = stable_token(fake, http, force=True)["access_token"]
    assert forced != first
    assert stable_token(fake, http)["access_token"] == forced
    clock.advance(299)
    assert "ticket" in create_qr(fake, http, first)
    clock.advance(2)
    assert create_qr(fake, http, first)["errcode"] == 40001
    assert "ticket" in create_qr(fake, http, forced)


def test_stable_token_checks_credentials_and_body(
    fake: FakeWeChat, http: requests.Session
) -> None:
    url = fake.base_url + "/cgi-bin/stable_token"
    bad_secret = {"grant_type": "client_credential", "appid": fake.appid, "secret": "x"}
    assert http.post(url, json=bad_secret, timeout=5).json()["errcode"] == 40125
    assert http.post(url, data=b"appid=1", timeout=5).json()["errcode"] == 47001


# ----- QR codes -----------------------------------------------------------------------------


def test_qrcode_create_stores_the_scene_until_expiry(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    token = get_token(fake, http)["access_token"]
    answer = create_qr(fake, http, token, qr_body("meeting-42", 600))
    assert answer["expire_seconds"] == 600
    assert answer["url"].startswith("http://weixin.qq.com/q/")
    assert fake.qrcode_scene(answer["ticket"]) == "meeting-42"
    assert fake.qrcode_scene("no-such-ticket") is None
    image = http.get(
        fake.base_url + "/cgi-bin/showqrcode", params={"ticket": answer["ticket"]}, timeout=5
    )
    assert image.status_code == 200
    assert image.content.startswith(b"GIF")
    clock.advance(599)
    assert fake.qrcode_scene(answer["ticket"]) == "meeting-42"
    clock.advance(1)
    assert fake.qrcode_scene(answer["ticket"]) is None


def test_qrcode_defaults_and_other_kinds(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    token = get_token(fake, http)["access_token"]
    default = create_qr(fake, http, token, qr_body("s", expire=None))
    assert default["expire_seconds"] == 60
    by_id = create_qr(
        fake,
        http,
        token,
        {
            "expire_seconds": 30,
            "action_name": "QR_SCENE",
            "action_info": {"scene": {"scene_id": 123}},
        },
    )
    assert fake.qrcode_scene(by_id["ticket"]) == "123"
    permanent = create_qr(
        fake,
        http,
        token,
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "p"}}},
    )
    assert "expire_seconds" not in permanent
    clock.advance(10 * 86400)
    assert fake.qrcode_scene(permanent["ticket"]) == "p"
    assert fake.qrcode_scene(default["ticket"]) is None


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (qr_body("x" * 65), 40053),
        (qr_body(""), 40053),
        (qr_body("x" * 64, expire=2_592_001), 47003),
        (qr_body("x", expire=0), 47003),
        ({"action_name": "QR_WHATEVER", "action_info": {"scene": {"scene_str": "x"}}}, 40052),
        ({"action_name": "QR_STR_SCENE"}, 40053),
        ({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 0}}}, 40053),
        (
            {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100_001}}},
            40053,
        ),
    ],
)
def test_qrcode_create_validates(
    fake: FakeWeChat, http: requests.Session, body: dict[str, Any], errcode: int
) -> None:
    token = get_token(fake, http)["access_token"]
    assert create_qr(fake, http, token, body)["errcode"] == errcode


def test_qrcode_limits_are_inclusive(fake: FakeWeChat, http: requests.Session) -> None:
    token = get_token(fake, http)["access_token"]
    answer = create_qr(fake, http, token, qr_body("x" * 64, expire=2_592_000))
    assert answer["expire_seconds"] == 2_592_000
    assert fake.qrcode_scene(answer["ticket"]) == "x" * 64


# ----- template and subscribe messages -------------------------------------------------------


def test_template_send_is_recorded(fake: FakeWeChat, http: requests.Session) -> None:
    token = get_token(fake, http)["access_token"]
    first = api(fake, http, "/cgi-bin/message/template/send", token, template_body())
    second = api(
        fake, http, "/cgi-bin/message/template/send", token, template_body(touser="oOther_user-1")
    )
    assert first["errcode"] == 0
    assert first["errmsg"] == "ok"
    assert isinstance(first["msgid"], int)
    assert second["msgid"] != first["msgid"]
    assert fake.messages("template", OPENID) == [
        {"api": "template", "target": OPENID, "body": template_body(), "at": START}
    ]
    assert len(fake.messages("template")) == 2
    assert fake.messages("robot") == []


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (template_body(touser=""), 40003),
        (template_body(touser="not an openid"), 40003),
        (template_body(template_id=""), 40037),
        (template_body(data=["x"]), 47003),
        (template_body(data={"thing1": "no value object"}), 47003),
    ],
)
def test_template_send_validates(
    fake: FakeWeChat, http: requests.Session, body: dict[str, Any], errcode: int
) -> None:
    token = get_token(fake, http)["access_token"]
    assert api(fake, http, "/cgi-bin/message/template/send", token, body)["errcode"] == errcode
    assert fake.messages() == []


def test_subscribe_send_consumes_one_credit_per_message(
    fake: FakeWeChat, http: requests.Session
) -> None:
    token = get_token(fake, http)["access_token"]
    path = "/cgi-bin/message/subscribe/send"
    body = template_body(template_id="tpl-sub") | {"miniprogram_state": "formal", "lang": "zh_CN"}
    assert api(fake, http, path, token, body)["errcode"] == 43101
    fake.add_subscribe_credit(OPENID, "tpl-sub")
    fake.add_subscribe_credit(OPENID, "tpl-other")
    assert api(fake, http, path, token, body)["errcode"] == 0
    assert api(fake, http, path, token, body)["errcode"] == 43101
    assert fake.subscribe_credits(OPENID, "tpl-other") == 1
    fake.add_subscribe_credit(OPENID, "tpl-sub", n=2)
    assert [api(fake, http, path, token, body)["errcode"] for _ in range(3)] == [0, 0, 43101]
    assert len(fake.messages("subscribe", OPENID)) == 3
    bad_state = body | {"miniprogram_state": "production"}
    fake.add_subscribe_credit(OPENID, "tpl-sub")
    assert api(fake, http, path, token, bad_state)["errcode"] == 47003
    assert fake.subscribe_credits(OPENID, "tpl-sub") == 1


# ----- mini-program login ---------------------------------------------------------------------


def test_jscode2session_codes_are_single_use(fake: FakeWeChat, http: requests.Session) -> None:
    code = fake.issue_js_code("oMini_1", unionid="uUnion_1")
    answer = jscode(fake, http, code)
    assert answer["openid"] == "oMini_1"
    assert answer["unionid"] == "uUnion_1"
    assert len(answer["session_key"]) == 24
    assert jscode(fake, http, code)["errcode"] == 40163
    assert jscode(fake, http, "never-issued")["errcode"] == 40029
    assert "unionid" not in jscode(fake, http, fake.issue_js_code("oMini_2"))
    assert fake.token_calls == 0


def test_jscode2session_codes_expire_after_300_seconds(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    young, old = fake.issue_js_code("oA"), fake.issue_js_code("oB")
    clock.advance(299)
    assert jscode(fake, http, young)["openid"] == "oA"
    clock.advance(1)
    assert jscode(fake, http, old)["errcode"] == 40029


def test_jscode2session_checks_the_app(fake: FakeWeChat, http: requests.Session) -> None:
    code = fake.issue_js_code("oA")
    params = {
        "appid": fake.appid,
        "secret": "wrong",
        "js_code": code,
        "grant_type": "authorization_code",
    }
    answer = http.get(fake.base_url + "/sns/jscode2session", params=params, timeout=5).json()
    assert answer["errcode"] == 40125
    assert jscode(fake, http, code)["openid"] == "oA"


# ----- group robot ----------------------------------------------------------------------------


def test_robot_allows_20_per_sliding_minute(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    results = [robot(fake, http, text(f"m{i}"))["errcode"] for i in range(20)]
    assert results == [0] * 20
    refused = robot(fake, http, text("21st"))
    assert refused["errcode"] == 45009
    assert len(fake.messages("robot", ROBOT)) == 20
    assert robot(fake, http, text("other robot"), key="demo-robot-2")["errcode"] == 0
    clock.advance(59.9)
    assert robot(fake, http, text("still too soon"))["errcode"] == 45009
    clock.advance(0.1)
    assert robot(fake, http, text("after a minute"))["errcode"] == 0
    assert [m["body"]["text"]["content"] for m in fake.messages("robot", ROBOT)][-1] == (
        "after a minute"
    )


def test_robot_window_slides(fake: FakeWeChat, http: requests.Session, clock: FakeClock) -> None:
    assert all(robot(fake, http, text("a"))["errcode"] == 0 for _ in range(10))
    clock.advance(30)
    assert all(robot(fake, http, text("b"))["errcode"] == 0 for _ in range(10))
    assert robot(fake, http, text("c"))["errcode"] == 45009
    clock.advance(30)  # the first ten left the window, the second ten did not
    assert [robot(fake, http, text("d"))["errcode"] for _ in range(11)] == [0] * 10 + [45009]


def test_robot_text_limit_is_2048_utf8_bytes(fake: FakeWeChat, http: requests.Session) -> None:
    exact = "中" * 682 + "ab"
    assert len(exact.encode("utf-8")) == 2048
    assert robot(fake, http, text(exact))["errcode"] == 0
    over = robot(fake, http, text(exact + "c"))
    assert over["errcode"] == 40058
    assert over["errmsg"] == "content exceed max length"
    assert robot(fake, http, text("中" * 683))["errcode"] == 40058
    assert [m["body"]["text"]["content"] for m in fake.messages("robot")] == [exact]


def test_robot_markdown_limit_is_4096_bytes(fake: FakeWeChat, http: requests.Session) -> None:
    exact = "**会**" + "议" * 1363
    assert len(exact.encode("utf-8")) == 4096
    assert robot(fake, http, {"msgtype": "markdown", "markdown": {"content": exact}}) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    over = {"msgtype": "markdown", "markdown": {"content": exact + "!"}}
    assert robot(fake, http, over)["errcode"] == 40058
    assert fake.messages("robot")[0]["body"]["markdown"]["content"] == exact


def test_robot_text_mentions_are_recorded(fake: FakeWeChat, http: requests.Session) -> None:
    body = text(
        "开会了", mentioned_list=["zhangsan", "@all"], mentioned_mobile_list=["13800001111"]
    )
    assert robot(fake, http, body)["errcode"] == 0
    assert fake.messages("robot", ROBOT)[0]["body"] == body
    assert robot(fake, http, text("x", mentioned_list="zhangsan"))["errcode"] == 40058


def test_robot_rejects_bad_keys_and_empty_content(
    clock: FakeClock, http: requests.Session
) -> None:
    with FakeWeChat(clock=clock, robot_keys={"key-a"}) as fake:
        assert robot(fake, http, text("hi"), key="key-a")["errcode"] == 0
        assert robot(fake, http, text("hi"), key="demo-robot-1")["errcode"] == 93000
        assert robot(fake, http, text("hi"), key="")["errcode"] == 93000
        assert robot(fake, http, text(""), key="key-a")["errcode"] == 44004
        assert robot(fake, http, {"msgtype": "text"}, key="key-a")["errcode"] == 44004
        assert robot(fake, http, {"msgtype": "image"}, key="key-a")["errcode"] == 40008
        assert robot(fake, http, b"{not json", key="key-a")["errcode"] == 47001
        assert len(fake.messages()) == 1


def test_robot_default_keys_must_start_with_demo(fake: FakeWeChat, http: requests.Session) -> None:
    assert robot(fake, http, text("hi"), key="prod-key")["errcode"] == 93000
    assert robot(fake, http, text("hi"), key="demo-anything")["errcode"] == 0


def test_robot_window_holds_under_concurrency(fake: FakeWeChat) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        with requests.Session() as session:
            errcode = robot(fake, session, text(f"c{index}"))["errcode"]
        with lock:
            results.append(errcode)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0] * 20 + [45009] * 20
    assert len(fake.messages("robot", ROBOT)) == 20


# ----- WeCom app -----------------------------------------------------------------------------


def test_wecom_gettoken_and_appchat(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    url = fake.base_url + "/cgi-bin/gettoken"
    good = {"corpid": fake.corp_id, "corpsecret": fake.corp_secret}
    answer = http.get(url, params=good, timeout=5).json()
    assert answer["errcode"] == 0
    assert answer["expires_in"] == 7200
    token = answer["access_token"]
    assert http.get(url, params=good, timeout=5).json()["access_token"] == token
    bad_corp = {"corpid": "wwother", "corpsecret": "x"}
    assert http.get(url, params=bad_corp, timeout=5).json()["errcode"] == 40013
    bad_secret = {"corpid": fake.corp_id, "corpsecret": "x"}
    assert http.get(url, params=bad_secret, timeout=5).json()["errcode"] == 40001
    body = {"chatid": "branch1", "msgtype": "text", "text": {"content": "明天学习"}}
    assert api(fake, http, "/cgi-bin/appchat/send", token, body)["errcode"] == 0
    assert fake.messages("appchat", "branch1")[0]["body"] == body
    empty = {"chatid": "branch1", "msgtype": "text", "text": {"content": ""}}
    assert api(fake, http, "/cgi-bin/appchat/send", token, empty)["errcode"] == 44004
    oa_token = get_token(fake, http)["access_token"]
    assert api(fake, http, "/cgi-bin/appchat/send", oa_token, body)["errcode"] == 40001
    clock.advance(7200)
    assert api(fake, http, "/cgi-bin/appchat/send", token, body)["errcode"] == 42001
    assert http.get(url, params=good, timeout=5).json()["access_token"] != token


def corp_token(fake: FakeWeChat, http: requests.Session) -> str:
    """Return a WeCom access token from /cgi-bin/gettoken."""
    params = {"corpid": fake.corp_id, "corpsecret": fake.corp_secret}
    return http.get(fake.base_url + "/cgi-bin/gettoken", params=params, timeout=5).json()[
        "access_token"
    ]


def app_message(touser: str = "zhangsan", content: str = "请缴纳三月党费", **extra: Any) -> dict:
    """Build a WeCom app text message body."""
    body = {"touser": touser, "msgtype": "text", "agentid": 1000002, "text": {"content": content}}
    return {**body, **extra}


def test_wecom_app_message_is_recorded_per_member(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    token = corp_token(fake, http)
    answer = api(fake, http, "/cgi-bin/message/send", token, app_message())
    assert answer["errcode"] == 0 and answer["errmsg"] == "ok"
    assert answer["invaliduser"] == ""
    assert isinstance(answer["msgid"], str) and answer["msgid"]
    (message,) = fake.messages("wecom_app")
    assert message["target"] == "zhangsan"
    assert message["body"] == app_message()
    markdown = app_message("lisi|wangwu", msgtype="markdown", markdown={"content": "**开会**"})
    del markdown["text"]
    assert api(fake, http, "/cgi-bin/message/send", token, markdown)["invaliduser"] == ""
    assert [m["target"] for m in fake.messages("wecom_app")] == ["zhangsan", "lisi", "wangwu"]
    assert fake.messages("wecom_app", "lisi")[0]["body"]["markdown"]["content"] == "**开会**"
    assert fake.messages("appchat") == []


def test_wecom_app_message_lists_userids_outside_the_visible_range(
    fake: FakeWeChat, http: requests.Session
) -> None:
    fake.wecom_users = {"zhangsan", "LiSi"}
    token = corp_token(fake, http)
    answer = api(fake, http, "/cgi-bin/message/send", token, app_message("lisi|Ghost|zhangsan"))
    assert (answer["errcode"], answer["invaliduser"]) == (0, "ghost")  # lower case, as WeCom
    assert [m["target"] for m in fake.messages("wecom_app")] == ["lisi", "zhangsan"]
    answer = api(fake, http, "/cgi-bin/message/send", token, app_message("ghost|nobody"))
    assert answer["errcode"] == 81013  # every recipient invalid: the call fails
    assert answer["invaliduser"] == "ghost|nobody"
    assert len(fake.messages("wecom_app")) == 2


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (app_message(touser=""), 40058),
        ({k: v for k, v in app_message().items() if k != "touser"}, 40058),
        ({k: v for k, v in app_message().items() if k != "agentid"}, 40056),
        (app_message(agentid="1000002"), 40056),
        (app_message(msgtype="image", image={"media_id": "m"}), 40008),
        (app_message(content=""), 44004),
        (app_message(content="党" * 683), 40058),  # 2049 UTF-8 bytes
        (app_message(text="x"), 40058),
    ],
    ids=[
        "empty-touser",
        "no-touser",
        "no-agentid",
        "string-agentid",
        "image",
        "empty",
        "too-long",
        "text-not-object",
    ],
)
def test_wecom_app_message_validates(
    fake: FakeWeChat, http: requests.Session, body: dict[str, Any], errcode: int
) -> None:
    token = corp_token(fake, http)
    assert api(fake, http, "/cgi-bin/message/send", token, body)["errcode"] == errcode
    assert fake.messages() == []


def test_wecom_app_message_needs_a_live_wecom_token(
    fake: FakeWeChat, http: requests.Session, clock: FakeClock
) -> None:
    token = corp_token(fake, http)
    body = app_message(content="党" * 682)  # 2046 bytes: within the limit
    assert api(fake, http, "/cgi-bin/message/send", token, body)["errcode"] == 0
    oa_token = get_token(fake, http)["access_token"]
    assert api(fake, http, "/cgi-bin/message/send", oa_token, body)["errcode"] == 40001
    assert api(fake, http, "/cgi-bin/message/send", "", body)["errcode"] == 40001
    url = fake.base_url + "/cgi-bin/message/send"
    assert http.get(url, params={"access_token": token}, timeout=5).json()["errcode"] == 43002
    clock.advance(7200)
    assert api(fake, http, "/cgi-bin/message/send", token, body)["errcode"] == 42001
    assert len(fake.messages("wecom_app")) == 1


# ----- protocol errors and fault injection ---------------------------------------------------


def test_bad_requests_get_wechat_errors(fake: FakeWeChat, http: requests.Session) -> None:
    token = get_token(fake, http)["access_token"]
    url = fake.base_url + "/cgi-bin/message/template/send"
    params = {"access_token": token}
    assert http.post(url, params=params, data=b"<xml/>", timeout=5).json()["errcode"] == 47001
    assert http.post(url, params=params, data=b"[1, 2]", timeout=5).json()["errcode"] == 47001
    assert http.post(url, params=params, data=b"", timeout=5).json()["errcode"] == 44002
    assert http.get(url, params=params, timeout=5).json()["errcode"] == 43002
    missing = http.get(fake.base_url + "/cgi-bin/nope", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["errcode"] == -1


def test_fault_once_then_normal(fake: FakeWeChat, http: requests.Session) -> None:
    fake.inject("/cgi-bin/webhook/send", errcode=-1)
    assert robot(fake, http, text("a")) == {"errcode": -1, "errmsg": "system error"}
    assert robot(fake, http, text("b"))["errcode"] == 0
    assert [m["body"]["text"]["content"] for m in fake.messages()] == ["b"]
    assert fake.calls["/cgi-bin/webhook/send"] == 2


def test_fault_n_times_and_in_order(fake: FakeWeChat, http: requests.Session) -> None:
    fake.inject("/cgi-bin/webhook/send", errcode=45009, times=2)
    fake.inject("*", errcode=40164, errmsg="invalid ip 10.0.0.1")
    codes = [robot(fake, http, text("x"))["errcode"] for _ in range(4)]
    assert codes == [45009, 45009, 40164, 0]


def test_fault_always_until_cleared(fake: FakeWeChat, http: requests.Session) -> None:
    fake.inject("/cgi-bin/token", errcode=-1, times=None)
    assert [get_token(fake, http).get("errcode") for _ in range(5)] == [-1] * 5
    assert robot(fake, http, text("other path"))["errcode"] == 0
    fake.clear_faults()
    assert "access_token" in get_token(fake, http)
    assert fake.token_calls == 6


def test_fault_http_5xx_and_non_json(fake: FakeWeChat, http: requests.Session) -> None:
    url = fake.base_url + "/cgi-bin/webhook/send"
    fake.inject("/cgi-bin/webhook/send", http_status=502)
    fake.inject("/cgi-bin/webhook/send", body="<html>busy</html>")
    fake.inject("/cgi-bin/webhook/send", http_status=503, body=b"")
    bad_gateway = http.post(url, params={"key": ROBOT}, json=text("a"), timeout=5)
    assert bad_gateway.status_code == 502
    assert b"502" in bad_gateway.content
    html = http.post(url, params={"key": ROBOT}, json=text("b"), timeout=5)
    assert html.status_code == 200
    assert html.text == "<html>busy</html>"
    with pytest.raises(ValueError):
        html.json()
    unavailable = http.post(url, params={"key": ROBOT}, json=text("c"), timeout=5)
    assert unavailable.status_code == 503
    assert unavailable.content == b""
    assert fake.messages() == []


def post_robot(fake: FakeWeChat, http: requests.Session, content: str, timeout: float) -> Any:
    return http.post(
        fake.base_url + "/cgi-bin/webhook/send",
        params={"key": ROBOT},
        json=text(content),
        timeout=timeout,
    )


def wait_until(condition: Any) -> bool:
    """Poll ``condition`` for up to 10 s (what it waits for takes milliseconds)."""
    for _ in range(1000):
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_fault_latency_delays_before_handling_then_answers(
    fake: FakeWeChat, http: requests.Session
) -> None:
    fake.inject("/cgi-bin/webhook/send", latency=0.2)
    started = time.monotonic()
    assert robot(fake, http, text("slow"))["errcode"] == 0
    assert time.monotonic() - started >= 0.2  # the lower bound is the fault's sleep
    # The fault was used up: a client that waits less than the latency gets its answer.
    assert post_robot(fake, http, "fast", timeout=2.0).json()["errcode"] == 0
    fake.inject("/cgi-bin/webhook/send", latency=5.0)
    with pytest.raises(requests.Timeout):
        post_robot(fake, http, "too slow", timeout=0.05)
    # Latency comes before the request is handled: the client gave up, nothing was accepted
    # by then (the message is accepted only when the latency is over).
    assert texts_of(fake) == ["slow", "fast"]


def test_fault_hold_accepts_the_message_then_holds_the_answer(
    fake: FakeWeChat, http: requests.Session
) -> None:
    fake.inject("/cgi-bin/webhook/send", hold=0.2)
    started = time.monotonic()
    assert robot(fake, http, text("late answer"))["errcode"] == 0
    assert time.monotonic() - started >= 0.2
    fake.inject("/cgi-bin/webhook/send", hold=5.0)
    with pytest.raises(requests.Timeout):
        post_robot(fake, http, "accepted, answer lost", timeout=0.05)
    # The client timed out, yet WeChat had the message: a resend would be a duplicate.
    assert wait_until(lambda: len(fake.messages("robot")) == 2)
    assert texts_of(fake) == ["late answer", "accepted, answer lost"]
    fake.inject("/cgi-bin/webhook/send", hold=0.5, errcode=-1)
    assert robot(fake, http, text("busy"))["errcode"] == -1  # a held fault answer
    with pytest.raises(ValueError):
        fake.inject("*", hold=-1.0)


def texts_of(fake: FakeWeChat) -> list[str]:
    return [m["body"]["text"]["content"] for m in fake.messages("robot")]


def test_inject_rejects_bad_times(fake: FakeWeChat) -> None:
    with pytest.raises(ValueError):
        fake.inject("*", errcode=-1, times=0)


def test_reset_clears_state(fake: FakeWeChat, http: requests.Session) -> None:
    assert robot(fake, http, text("a"))["errcode"] == 0
    fake.add_subscribe_credit(OPENID, "tpl")
    fake.inject("*", errcode=-1, times=None)
    fake.reset()
    assert fake.messages() == []
    assert fake.calls == {}
    assert fake.subscribe_credits(OPENID, "tpl") == 0
    assert robot(fake, http, text("b"))["errcode"] == 0


def test_lifecycle(clock: FakeClock, http: requests.Session) -> None:
    fake = FakeWeChat(clock=clock)
    with pytest.raises(RuntimeError):
        _ = fake.base_url
    fake.start()
    try:
        with pytest.raises(RuntimeError):
            fake.start()
        assert fake.base_url == f"http://127.0.0.1:{fake.port}"
        assert "access_token" in get_token(fake, http)
    finally:
        fake.stop()
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{fake.port}/cgi-bin/token", timeout=2)


def test_clock_follows_real_time_until_set() -> None:
    clock = FakeClock()
    assert abs(clock.now() - time.time()) < 1
    clock.set(100.0)
    assert clock.now() == 100.0
    assert clock.advance(5) == 105.0
    assert clock.now() == 105.0


# ----- wechatpy against the fake -------------------------------------------------------------


def test_wechatpy_client_fetches_a_token_and_creates_a_qrcode(fake: FakeWeChat) -> None:
    client = wechatpy.WeChatClient(APPID, SECRET, timeout=5, auto_retry=False)
    fake.mount(client._http)  # fetch_access_token uses a hard-coded https://api.weixin.qq.com
    result = client.qrcode.create(
        {
            "expire_seconds": 1800,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": "meeting-7"}},
        }
    )
    assert result["expire_seconds"] == 1800
    assert fake.qrcode_scene(result["ticket"]) == "meeting-7"
    assert fake.calls["/cgi-bin/token"] == 1
    sent = client.message.send_template(OPENID, "tpl-1", {"thing1": {"value": "开会"}})
    assert sent["errcode"] == 0
    assert fake.messages("template", OPENID)[0]["body"]["template_id"] == "tpl-1"
    code = fake.issue_js_code("oMini_9")
    assert client.wxa.code_to_session(code)["openid"] == "oMini_9"


def test_wechatpy_client_with_base_url_and_given_token(
    fake: FakeWeChat, http: requests.Session
) -> None:
    token = get_token(fake, http)["access_token"]
    client = wechatpy.WeChatClient(APPID, SECRET, access_token=token, timeout=5, auto_retry=False)
    client.API_BASE_URL = fake.base_url + "/cgi-bin/"
    result = client.qrcode.create(qr_body("via-base-url"))
    assert fake.qrcode_scene(result["ticket"]) == "via-base-url"
    fake.revoke_tokens()
    with pytest.raises(WeChatClientException) as caught:
        client.qrcode.create(qr_body("after-revoke"))
    assert caught.value.errcode == 40001
    assert fake.calls["/cgi-bin/token"] == 1


def test_wechatpy_enterprise_client_sends_to_appchat(fake: FakeWeChat) -> None:
    client = WeComClient(fake.corp_id, fake.corp_secret, timeout=5, auto_retry=False)
    fake.mount(client._http)
    chat = client.appchat.create(chat_id="branch1", name="一支部", user_list=["zhangsan", "lisi"])
    assert chat["chatid"] == "branch1"
    assert client.appchat.send_text("branch1", "今晚学习")["errcode"] == 0
    assert fake.messages("appchat", "branch1")[0]["body"]["text"]["content"] == "今晚学习"
    assert fake.calls["/cgi-bin/gettoken"] == 1


def test_wechatpy_enterprise_client_sends_app_messages(fake: FakeWeChat) -> None:
    fake.wecom_users = {"zhangsan"}
    client = WeComClient(fake.corp_id, fake.corp_secret, timeout=5, auto_retry=False)
    fake.mount(client._http)
    answer = client.message.send_text(1000002, ["zhangsan", "ghost"], "明天开会")
    assert (answer["errcode"], answer["invaliduser"]) == (0, "ghost")
    assert fake.messages("wecom_app", "zhangsan")[0]["body"]["text"]["content"] == "明天开会"
    with pytest.raises(WeChatClientException) as caught:
        client.message.send_text(1000002, "ghost", "明天开会")
    assert caught.value.errcode == 81013
    assert fake.calls["/cgi-bin/gettoken"] == 1


# ----- command line --------------------------------------------------------------------------


def test_cli_prints_its_base_url_and_serves(http: requests.Session) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "bot.fake", "--port", "0", "--log-level", "WARNING"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
        answer = http.get(base_url + "/cgi-bin/token", params=params, timeout=5).json()
        assert answer["expires_in"] == 7200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
