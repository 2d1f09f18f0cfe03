"""The mini-program API foundation: login, tokens, binding, me, study, errors, contract.

Real HTTP to a live app whose WeChat API is the local fake; every answer is checked against
/api/v1/openapi.json by tests.api_contract.
"""

from __future__ import annotations

import base64
import logging
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine
from itsdangerous import URLSafeTimedSerializer
from jsonschema import Draft202012Validator

import bot.fake
from api.auth import TOKEN_SALT
from api.openapi import document
from core.clock import utcnow
from handlers.sessions import revoke_member_sessions
from models.api import ApiSession
from models.base import db
from models.study import StudyCheckin
from models.wechat import WechatBinding
from tests import factories as f
from tests.support.api import Env
from tests.support.api_contract import check
from tests.support.apps import make_driver

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)
CODE_MSG = "登录码无效或已使用，请重新进入小程序"


def err(r, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["errcode"] == errcode, body
    return body["errmsg"]


# ---- login ----------------------------------------------------------------------------------


def test_login_unbound_bind_with_code_then_me(env: Env):
    with env.app.app_context(), db.connection_context():
        code = f.code_for(env.people["new"], env.settings)
    before = utcnow()
    answer = env.login("mini-new")
    assert answer["bound"] is False and "member" not in answer
    expires = datetime.fromisoformat(answer["expires_at"])
    assert answer["expires_at"].endswith("+08:00")
    assert (
        timedelta(days=7) - timedelta(seconds=5)
        <= expires - before
        <= timedelta(days=7, seconds=5)
    )
    token = answer["token"]
    assert "not_bound" == env.api.get("/api/v1/me", token=token).json()["errcode"]

    err(
        env.api.post("/api/v1/bind", token=token, json={"code": "ABCD2345"}),
        400,
        "bind_code_invalid",
    )
    r = env.api.post("/api/v1/bind", token=token, json={"code": code.lower()})
    assert r.status_code == 200, r.text
    assert r.json()["member"]["name"] == "新党员"
    me = env.api.get("/api/v1/me", token=token).json()
    assert me["name"] == "新党员" and me["branch"]["name"] == "第一党支部"
    assert me["phone"].count("*") == 4 and me["roles"] == []
    msg = err(env.api.post("/api/v1/bind", token=token, json={"code": code}), 409, "already_bound")
    assert "新党员" in msg
    with env.app.app_context(), db.connection_context():
        binding = WechatBinding.get(WechatBinding.openid == "mini-new")
        assert binding.app == "mini" and binding.member_id == env.people["new"].id
        assert ApiSession.get(ApiSession.openid == "mini-new").member_id == env.people["new"].id
    again = env.login("mini-new")
    assert again["bound"] is True and again["member"]["id"] == env.people["new"].id


def test_me_shows_roles_of_a_bound_secretary(env: Env):
    answer = env.login("mini-sec")
    assert answer["bound"] is True
    roles = env.api.get("/api/v1/me", token=answer["token"]).json()["roles"]
    assert roles == [
        {"code": "organizer", "label": "组织委员"},
        {"code": "secretary", "label": "书记"},
    ]


def test_login_code_is_single_use(env: Env):
    code = env.fake.issue_js_code("mini-m1")
    assert env.api.post("/api/v1/login", json={"code": code}).status_code == 200
    again = env.api.post("/api/v1/login", json={"code": code})
    assert err(again, 400, "login_code_invalid") == CODE_MSG
    assert err(
        env.api.post("/api/v1/login", json={"code": "never-issued"}), 400, "login_code_invalid"
    )


@pytest.mark.parametrize(
    ("errcode", "status", "expected"),
    [
        (40029, 400, "login_code_invalid"),
        (40163, 400, "login_code_invalid"),
        (45011, 429, "rate_limited"),
        (40226, 403, "wechat_risky_user"),
        (-1, 502, "wechat_unavailable"),
    ],
)
def test_jscode2session_errors_are_mapped(env: Env, errcode, status, expected):
    code = env.fake.issue_js_code("mini-m1")
    env.fake.inject("/sns/jscode2session", errcode=errcode)
    msg = err(env.api.post("/api/v1/login", json={"code": code}), status, expected)
    assert any(ord(c) > 127 for c in msg)  # a Chinese message for the member
    with env.app.app_context(), db.connection_context():
        assert ApiSession.select().count() == 0


@pytest.mark.parametrize("fault", [{"http_status": 503}, {"body": "<html>busy</html>"}])
def test_wechat_down_is_502(env: Env, fault):
    env.fake.inject("/sns/jscode2session", **fault)
    r = env.api.post("/api/v1/login", json={"code": env.fake.issue_js_code("mini-m1")})
    err(r, 502, "wechat_unavailable")


def test_wechat_unreachable_is_502(make_env):
    env = make_env()
    env.app.config["ZHIBU"].wechat.api_base_url = "http://127.0.0.1:9"  # nothing listens
    err(env.api.post("/api/v1/login", json={"code": "abc"}), 502, "wechat_unavailable")


def test_session_key_is_never_returned_or_logged(env: Env, caplog, monkeypatch):
    marker = "U0VTU0lPTi1LRVktTUFSS0VS"  # what the fake will hand out as session_key

    class FixedKey:
        b64decode = staticmethod(base64.b64decode)

        @staticmethod
        def b64encode(raw: bytes) -> bytes:
            return marker.encode()

    code = env.fake.issue_js_code("mini-m1")
    monkeypatch.setattr(bot.fake, "base64", FixedKey)
    caplog.set_level(logging.DEBUG)
    r = env.api.post("/api/v1/login", json={"code": code})
    assert r.status_code == 200
    assert marker not in r.text and "session_key" not in r.text
    assert marker not in caplog.text
    assert env.settings.wechat.app_secret not in caplog.text
    with env.app.app_context(), db.connection_context():
        row = ApiSession.get()
        assert marker not in repr(row.__data__)


# ---- tokens ---------------------------------------------------------------------------------


def test_token_expires(env: Env):
    ttl = env.settings.api.session_ttl_seconds
    start = datetime.now(SH)
    with time_machine.travel(start, tick=False):
        token = env.token("mini-m1")
    with time_machine.travel(start + timedelta(seconds=ttl - 60), tick=False):
        assert env.api.get("/api/v1/me", token=token).status_code == 200
    with time_machine.travel(start + timedelta(seconds=ttl + 1), tick=False):
        err(env.api.get("/api/v1/me", token=token), 401, "token_expired")


def test_shorter_configured_ttl_is_honoured(make_env):
    env = make_env(api={"session_ttl_seconds": 60})
    start = datetime.now(SH)
    with time_machine.travel(start, tick=False):
        answer = env.login("mini-m1")
    expires = datetime.fromisoformat(answer["expires_at"])
    assert abs((expires - start).total_seconds() - 60) < 1
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        err(env.api.get("/api/v1/me", token=answer["token"]), 401, "token_expired")


def test_forged_and_missing_tokens_are_401(env: Env):
    token = env.token("mini-m1")
    assert env.api.get("/api/v1/me", token=token).status_code == 200
    # Change one fully significant character of the signature (not the last, whose low bits
    # may be padding) and one of the payload.
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    payload = ("A" if token[0] != "A" else "B") + token[1:]
    other_key = URLSafeTimedSerializer("another-secret", salt=TOKEN_SALT).dumps({"sid": 1})
    for bad in (flipped, payload, other_key, "garbage", token + "x"):
        err(env.api.get("/api/v1/me", token=bad), 401, "token_invalid")
    # A well-signed token for a session that does not exist.
    ghost = URLSafeTimedSerializer(env.settings.app.secret_key, salt=TOKEN_SALT).dumps(
        {"sid": 999999}
    )
    err(env.api.get("/api/v1/me", token=ghost), 401, "token_invalid")
    err(env.api.get("/api/v1/me"), 401, "unauthorized")
    err(
        env.api.get("/api/v1/me", headers={"Authorization": f"Basic {token}"}), 401, "unauthorized"
    )


def test_revoked_token_is_401(env: Env):
    token = env.token("mini-m1")
    other = env.token("mini-sec")
    assert env.api.get("/api/v1/me", token=token).status_code == 200
    with env.app.app_context(), db.connection_context():
        assert revoke_member_sessions(env.people["m1"].id, utcnow()) == 1
        assert revoke_member_sessions(env.people["m1"].id, utcnow()) == 0
    err(env.api.get("/api/v1/me", token=token), 401, "token_revoked")
    err(env.api.get("/api/v1/study/me", token=token), 401, "token_revoked")
    assert env.api.get("/api/v1/me", token=other).status_code == 200  # others keep theirs


# ---- study ----------------------------------------------------------------------------------


def test_checkin_through_api_and_bot_leave_identical_records(env: Env):
    with env.app.app_context(), db.connection_context():
        topic = f.topic(NOW.date(), "学习党章第一章")
    driver = make_driver(env.settings, env.server.url)
    with time_machine.travel(NOW, tick=False):
        token = env.token("mini-m1")  # issued "now": a token from the future is refused
        today = env.api.get("/api/v1/study/today", token=token).json()
        assert today == {
            "day": "2026-11-26",
            "topic": {
                "id": topic.id,
                "day": "2026-11-26",
                "title": "学习党章第一章",
                "category": "other",
                "category_label": "其他",
                "content": "",
                "url": "",
            },
            "checked_in": False,
        }
        r = env.api.post("/api/v1/study/checkins", token=token, json={"reflection": "读了党章"})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["created"] is True and body["checkin"]["source"] == "api"
        assert body["checkin"]["created_at"] == "2026-11-26T10:00:00+08:00"
        assert body["week"]["days_count"] == 1 and body["week"]["streak"] == 1
        reply = driver.send_text("oa-m2", "学习 读了党章").reply
        assert reply.startswith("学习打卡成功"), reply
        assert env.api.get("/api/v1/study/today", token=token).json()["checked_in"] is True
    with env.app.app_context(), db.connection_context():
        api_row = StudyCheckin.get(StudyCheckin.member == env.people["m1"].id).__data__
        bot_row = StudyCheckin.get(StudyCheckin.member == env.people["m2"].id).__data__
    assert api_row.pop("source") == "api" and bot_row.pop("source") == "bot"
    for row in (api_row, bot_row):
        row.pop("id"), row.pop("member")
    assert api_row == bot_row
    assert api_row["topic"] == topic.id and api_row["day"] == date(2026, 11, 26)


def test_repeat_checkin_updates_and_my_study_shows_streak(env: Env):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        token = env.token("mini-m1")
        other_token = env.token("mini-sec")
    for days_ago in (2, 1):
        with time_machine.travel(NOW - timedelta(days=days_ago), tick=False):
            assert env.api.post("/api/v1/study/checkins", token=token, json={}).status_code == 201
    with time_machine.travel(NOW, tick=False):
        first = env.api.post("/api/v1/study/checkins", token=token, json={"reflection": "一"})
        assert first.status_code == 201
        second = env.api.post("/api/v1/study/checkins", token=token, json={"reflection": "二"})
        assert second.status_code == 200 and second.json()["created"] is False
        assert second.json()["checkin"]["reflection"] == "二"
        mine = env.api.get("/api/v1/study/me", token=token).json()
        # Another member's token sees only their own (empty) history.
        other = env.api.get("/api/v1/study/me", token=other_token).json()
    assert mine["week"]["streak"] == 3 and mine["week"]["total"] == 3
    assert mine["week"]["week_start"] == "2026-11-23"
    assert mine["week"]["days_checked"] == [False, True, True, True, False, False, False]
    assert [c["day"] for c in mine["recent"]] == ["2026-11-26", "2026-11-25", "2026-11-24"]
    assert other["recent"] == [] and other["week"]["total"] == 0


def test_unbound_account_cannot_use_member_routes(env: Env):
    token = env.token("mini-stranger")
    for path in ("/api/v1/me", "/api/v1/study/today", "/api/v1/study/me"):
        assert "绑定码" in err(env.api.get(path, token=token), 403, "not_bound")
    r = env.api.post("/api/v1/study/checkins", token=token, json={"reflection": "x"})
    err(r, 403, "not_bound")
    with env.app.app_context(), db.connection_context():
        assert StudyCheckin.select().count() == 0


# ---- bad input ------------------------------------------------------------------------------


def test_validation_errors_name_the_field(env: Env):
    post = env.api.post
    assert "code" in err(post("/api/v1/login", json={}), 400, "missing_field")
    assert "code" in err(post("/api/v1/login", json={"code": 5}), 400, "invalid_field")
    assert "code" in err(post("/api/v1/login", json={"code": "  "}), 400, "invalid_field")
    assert "code" in err(post("/api/v1/login", json={"code": "x" * 129}), 400, "invalid_field")
    assert "extra" in err(
        post("/api/v1/login", json={"code": "a", "extra": 1}), 400, "unknown_field"
    )
    err(post("/api/v1/login", data=b"not json"), 400, "invalid_json")
    err(post("/api/v1/login", json=["code"]), 400, "invalid_json")
    token = env.token("mini-m1")
    limit = env.settings.study.reflection_max_chars
    r = post("/api/v1/study/checkins", token=token, json={"reflection": "字" * (limit + 1)})
    assert "reflection" in err(r, 400, "invalid_field")
    r = post("/api/v1/study/checkins", token=token, json={"reflection": "x", "mood": "好"})
    assert "mood" in err(r, 400, "unknown_field")
    r = post("/api/v1/study/checkins", token=token, json={"reflection": ["x"]})
    assert "reflection" in err(r, 400, "invalid_field")
    assert "code" in err(post("/api/v1/bind", token=token, json={}), 400, "missing_field")
    with env.app.app_context(), db.connection_context():
        assert StudyCheckin.select().count() == 0


def test_oversized_body_is_413_json(env: Env):
    cap = env.settings.app.max_body_bytes
    r = env.api.post(
        "/api/v1/login",
        data=b'{"code": "' + b"a" * cap + b'"}',
        headers={"Content-Type": "application/json"},
    )
    err(r, 413, "body_too_large")


def test_unknown_route_wrong_method_and_crash_answer_json(env: Env, monkeypatch, caplog):
    err(env.api.get("/api/v1/nothing-here"), 404, "not_found")
    err(env.api.get("/api/v1/login"), 405, "method_not_allowed")
    err(env.api.call("DELETE", "/api/v1/me"), 405, "method_not_allowed")
    token = env.token("mini-m1")

    def boom(*a: Any, **k: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("handlers.study.checkins.today_topic", boom)
    caplog.set_level(logging.ERROR, logger="api.errors")
    msg = err(env.api.get("/api/v1/study/today", token=token), 500, "internal_error")
    assert "secret internals" not in msg and "系统繁忙" in msg
    assert "RuntimeError" in caplog.text
    # The rest of the app keeps its own (non-JSON) answers.
    plain = requests.get(env.server.url + "/nothing-here", timeout=5)
    assert plain.status_code == 404 and not plain.headers["Content-Type"].startswith(
        "application/json"
    )


# ---- rate limits ----------------------------------------------------------------------------


def test_login_rate_limit_per_address(make_env):
    env = make_env(api={"login_rate_per_minute": 3})
    start = datetime.now(SH)
    with time_machine.travel(start, tick=False):
        for i in range(3):
            env.login(f"mini-rl-{i}")
        code = env.fake.issue_js_code("mini-rl-9")
        err(env.api.post("/api/v1/login", json={"code": code}), 429, "rate_limited")
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert env.api.post("/api/v1/login", json={"code": code}).status_code == 200


@pytest.mark.parametrize("hops", [0, 1])
def test_per_address_limit_trusts_forwarded_for_only_behind_a_configured_proxy(make_env, hops):
    """Behind one proxy, clients are told apart by X-Forwarded-For; without one, a client
    cannot dodge the limit by forging the header."""
    env = make_env(api={"login_rate_per_minute": 2}, app={"trusted_proxies": hops})
    start = datetime.now(SH)

    def login(openid: str, client: str) -> requests.Response:
        code = env.fake.issue_js_code(openid)
        headers = {"X-Forwarded-For": client}
        return env.api.post("/api/v1/login", json={"code": code}, headers=headers)

    with time_machine.travel(start, tick=False):
        for i in range(2):
            assert login(f"mini-a{i}", "203.0.113.7").status_code == 200
        err(login("mini-a9", "203.0.113.7"), 429, "rate_limited")
        other_client = login("mini-b1", "198.51.100.2")
        if hops:
            assert other_client.status_code == 200  # a different client behind the proxy
        else:
            err(other_client, 429, "rate_limited")  # the same TCP peer, whatever it claims


def test_wrong_bind_codes_are_rate_limited(env: Env):
    token = env.token("mini-guesser")
    limit = env.settings.binding.max_failures_per_hour
    for _ in range(limit):
        r = env.api.post("/api/v1/bind", token=token, json={"code": "ABCD2345"})
        err(r, 400, "bind_code_invalid")
    with env.app.app_context(), db.connection_context():
        code = f.code_for(env.people["new"], env.settings)
    err(env.api.post("/api/v1/bind", token=token, json={"code": code}), 429, "rate_limited")


# ---- the contract ---------------------------------------------------------------------------


def test_openapi_document_is_served_and_matches_the_routes(env: Env):
    served = env.api.get("/api/v1/openapi.json").json()
    assert served == document()
    assert served["openapi"].startswith("3.1")
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in env.app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, m) for path, ops in served["paths"].items() for m in ops}
    assert routes == documented
    for schema in served["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises on a malformed schema
    assert served["components"]["schemas"]["Error"]["required"] == ["errcode", "errmsg"]


def _response(method: str, path: str, status: int, body: bytes) -> requests.Response:
    r = requests.Response()
    r.request = requests.Request(method, "http://127.0.0.1" + path).prepare()
    r.url, r.status_code, r._content = r.request.url, status, body
    r.headers["Content-Type"] = "application/json"
    return r


def test_contract_check_catches_a_wrong_answer():
    """The checker itself can fail: wrong shapes and undocumented statuses are refused."""
    good = '{"errcode": "not_bound", "errmsg": "请绑定"}'.encode()
    check(_response("GET", "/api/v1/me", 403, good))
    bad = [
        _response("GET", "/api/v1/me", 200, b'{"id": 1, "name": "x"}'),  # fields missing
        _response("GET", "/api/v1/me", 403, b'{"errcode": "x", "errmsg": "y", "z": 1}'),
        _response("GET", "/api/v1/me", 409, good),  # not documented for this route
        _response("GET", "/api/v1/me", 403, b'{"error": "html-ish"}'),
        _response("GET", "/healthz", 200, b"{}"),  # not an API route
    ]
    for response in bad:
        with pytest.raises(AssertionError):
            check(response)


def test_simulate_login_logs_in_through_the_fake_like_the_mini_program(env: Env):
    """`flask simulate-login` (the demo's way to try the API): the fake plays wx.login."""
    runner = env.app.test_cli_runner()
    where = ["--api", env.server.url + "/api/v1", "--fake", env.fake.base_url]
    out = runner.invoke(args=["simulate-login", "--openid", "mini-sec", *where])
    assert out.exit_code == 0, out.output
    assert '"bound": true' in out.output and "书记甲" in out.output
    token = out.output.split('"token": "')[1].split('"')[0]
    assert env.api.get("/api/v1/me", token=token).json()["name"] == "书记甲"
    assert "/branch/overview" in out.output  # a secretary is shown the manager routes
    out = runner.invoke(args=["simulate-login", "--openid", "mini-newcomer", *where])
    assert out.exit_code == 0 and '"bound": false' in out.output and "/bind" in out.output
    out = runner.invoke(args=["simulate-login", "--api", "http://127.0.0.1:9/api/v1", *where[2:]])
    assert out.exit_code == 1 and "make demo" in out.output
