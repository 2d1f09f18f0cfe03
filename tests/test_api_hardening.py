"""Hostile input to /api/v1 never gets a 5xx: huge and negative ids, deep JSON, lone surrogates,
dates at the ends of the calendar, control characters, bodies that are not JSON, no token, and a
database held locked by another writer (a short retry, then 503 with Retry-After).

Real HTTP against the cast of tests/support/api.py; every answer is checked against the OpenAPI
document (tests/api_contract.py).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg2
import pytest
import requests
import time_machine

from api.auth import WxSession
from models.meetings import Meeting
from models.study import StudyCheckin
from models.wechat import RateEvent
from tests.support.api import Env

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=SH)
START = datetime(2026, 12, 3, 15, 0, tzinfo=SH)
HUGE = [2**31, 2**63 - 1, 2**63, 2**64, 2**64 + 1, 10**30]


def err(r: requests.Response, status: int, errcode: str) -> str:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert body["errcode"] == errcode, body
    return body["errmsg"]


def names(r: requests.Response, status: int, errcode: str, field: str) -> None:
    """The answer is ``status``/``errcode`` and its Chinese message names ``field``."""
    msg = err(r, status, errcode)
    assert field in msg, msg
    assert any(ord(c) > 0x2E80 for c in msg), msg


@pytest.fixture(autouse=True)
def pinned() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def env(make_env) -> Env:
    return make_env(api={"login_rate_per_minute": 1000})


def raw_post(env: Env, path: str, data: bytes | str, token: str | None = None, **headers: str):
    headers = {"Content-Type": "application/json", **headers}
    return env.api.post(path, token=token, data=data, headers=headers)


def a_meeting(env: Env, token: str) -> int:
    r = env.api.post(
        "/api/v1/meetings",
        token=token,
        json={"kind": "lesson", "title": "学习党章", "starts_at": START.isoformat()},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


# ---- ids past 2^63, past 2^64, negative -------------------------------------------------------


PATH_ROUTES = [
    ("GET", "/api/v1/meetings/{}", "meeting_id"),
    ("PATCH", "/api/v1/meetings/{}", "meeting_id"),
    ("POST", "/api/v1/meetings/{}/cancel", "meeting_id"),
    ("GET", "/api/v1/meetings/{}/attendance", "meeting_id"),
    ("POST", "/api/v1/meetings/leaves/{}/decision", "leave_id"),
    ("POST", "/api/v1/dues/reports/{}/confirm", "report_id"),
    ("POST", "/api/v1/dues/payments/{}/reverse", "payment_id"),
    ("POST", "/api/v1/branch/members/{}/unbind", "member_id"),
]


@pytest.mark.parametrize(("method", "template", "field"), PATH_ROUTES)
def test_path_ids_out_of_range_are_400_naming_the_field(env: Env, method, template, field):
    token = env.token("sec")
    for value in [*HUGE, -1, -(2**63) - 1, 0, "9" * 5000]:
        r = env.api.call(method, template.format(value), token=token, json={})
        names(r, 400, "invalid_field", field)


def test_ids_out_of_range_in_bodies_and_queries_are_400_naming_the_field(env: Env):
    token = env.token("sec")
    mid = a_meeting(env, token)
    for value in [*HUGE, -1, -(2**64)]:
        payload = {"kind": "lesson", "starts_at": START.isoformat(), "host_id": value}
        names(
            env.api.post("/api/v1/meetings", token=token, json=payload),
            400,
            "invalid_field",
            "host_id",
        )
        r = env.api.post(
            f"/api/v1/meetings/{mid}/attendance",
            token=token,
            json={"member_ids": [env.people["m1"].id, value]},
        )
        names(r, 400, "invalid_field", "member_ids")
        r = env.api.post(
            "/api/v1/dues/payments", token=token, json={"member_id": value, "amount_fen": 100}
        )
        names(r, 400, "invalid_field", "member_id")
        r = env.api.post("/api/v1/branch/binding-codes", token=token, json={"member_ids": [value]})
        names(r, 400, "invalid_field", "member_ids")
    for value in ["99999999999", "2147483648"]:
        r = env.api.get(f"/api/v1/meetings?branch_id={value}", token=token)
        names(r, 400, "invalid_field", "branch_id")
        r = env.api.get(f"/api/v1/dues/payments?member_id={value}", token=token)
        names(r, 400, "invalid_field", "member_id")


# ---- deep JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1000, 30_000])
def test_deeply_nested_json_is_400(env: Env, depth: int):
    token = env.token("m1")
    nested = "[" * depth + "]" * depth
    for body in (
        '{"reflection": ' + nested + "}",
        nested,
        '{"a":' * min(depth, 10_000) + "1" + "}" * min(depth, 10_000),  # within the body cap
    ):
        err(raw_post(env, "/api/v1/study/checkins", body, token), 400, "invalid_json")
    err(
        raw_post(env, "/api/v1/subscribe/credits", '{"accepted": ' + nested + "}", token),
        400,
        "invalid_json",
    )
    err(raw_post(env, "/api/v1/login", '{"code": ' + nested + "}"), 400, "invalid_json")
    with env.ctx():
        assert StudyCheckin.select().count() == 0


def test_json_nested_within_the_limit_is_judged_by_its_fields(env: Env):
    limit = env.settings.api.max_json_depth
    token = env.token("m1")
    nested = "[" * (limit - 1) + "]" * (limit - 1)
    r = raw_post(env, "/api/v1/study/checkins", '{"reflection": ' + nested + "}", token)
    names(r, 400, "invalid_field", "reflection")
    deeper = "[" * limit + "]" * limit
    r = raw_post(env, "/api/v1/study/checkins", '{"reflection": ' + deeper + "}", token)
    assert str(limit) in err(r, 400, "invalid_json")


# ---- lone surrogates and control characters ---------------------------------------------------


@pytest.mark.parametrize("bad", ["\\ud800", "a\\udfffb", "\\udc80\\ud800"])
def test_lone_surrogates_are_400_naming_the_field(env: Env, bad: str):
    token = env.token("m1")
    sec = env.token("sec")
    mid = a_meeting(env, sec)
    cases = [
        ("/api/v1/study/checkins", token, '{"reflection": "%s"}', "reflection"),
        ("/api/v1/subscribe/credits", token, '{"accepted": ["tpl", "%s"]}', "accepted"),
        ("/api/v1/meetings/signin", token, '{"code": "%s"}', "code"),
        (f"/api/v1/meetings/{mid}/leave", token, '{"reason": "%s"}', "reason"),
        ("/api/v1/meetings", sec, '{"kind": "lesson", "starts_at": "%s"}', "starts_at"),
        ("/api/v1/dues/reports", token, '{"amount_fen": 100, "months": ["%s"]}', "months"),
        ("/api/v1/login", None, '{"code": "%s"}', "code"),
        ("/api/v1/bind", token, '{"code": "%s"}', "code"),
    ]
    for path, who, template, field in cases:
        names(raw_post(env, path, template % bad, who), 400, "invalid_field", field)
    # A field name that cannot be encoded is refused without being echoed back.
    r = raw_post(env, "/api/v1/study/checkins", '{"' + bad + '": 1}', token)
    assert r.status_code == 400, r.text
    with env.ctx():
        assert StudyCheckin.select().count() == 0


ONE_LINE = ["会\x00议", "a\x1fb", "a\tb", "line\nbreak", "a\rb", "del\x7f", "c1\x85"]


def test_control_characters_are_refused_in_one_line_fields(env: Env):
    sec = env.token("sec")
    m1 = env.token("m1")
    mid = a_meeting(env, sec)
    for bad in ONE_LINE:
        payload = {"kind": "lesson", "starts_at": START.isoformat(), "title": bad}
        names(
            env.api.post("/api/v1/meetings", token=sec, json=payload),
            400,
            "invalid_field",
            "title",
        )
        r = env.api.call("PATCH", f"/api/v1/meetings/{mid}", token=sec, json={"place": bad})
        names(r, 400, "invalid_field", "place")
        r = env.api.post(f"/api/v1/meetings/{mid}/leave", token=m1, json={"reason": bad})
        names(r, 400, "invalid_field", "reason")
        r = env.api.post("/api/v1/meetings/signin", token=m1, json={"code": bad})
        names(r, 400, "invalid_field", "code")
        r = env.api.post("/api/v1/subscribe/credits", token=m1, json={"accepted": [bad]})
        names(r, 400, "invalid_field", "accepted")
        r = env.api.get("/api/v1/branch/members", token=sec, params={"q": bad})
        names(r, 400, "invalid_field", "q")
    with env.ctx():
        assert Meeting.select().count() == 1


def test_multi_line_fields_keep_line_breaks_and_nothing_else(env: Env):
    sec = env.token("sec")
    m1 = env.token("m1")
    mid = a_meeting(env, sec)
    for bad in ("a\x00b", "a\tb", "a\rb", "a\x1bb"):
        r = env.api.post("/api/v1/study/checkins", token=m1, json={"reflection": bad})
        names(r, 400, "invalid_field", "reflection")
        r = env.api.call("PATCH", f"/api/v1/meetings/{mid}", token=sec, json={"minutes": bad})
        names(r, 400, "invalid_field", "minutes")
    r = env.api.post("/api/v1/study/checkins", token=m1, json={"reflection": "第一行\n第二行"})
    assert r.status_code == 201, r.text
    assert r.json()["checkin"]["reflection"] == "第一行\n第二行"
    r = env.api.call(
        "PATCH", f"/api/v1/meetings/{mid}", token=sec, json={"decisions": "一、\n二、"}
    )
    assert r.status_code == 200, r.text


# ---- dates at the ends of the calendar --------------------------------------------------------


EXTREME_TIMES = [
    "9999-12-31T23:59:59+08:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T20:00:00Z",
    "0001-01-01T00:00:00+08:00",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00Z",
    "1899-12-31T23:00:00+08:00",
    "2101-01-01T09:00:00+08:00",
]


def test_times_far_from_now_are_400_naming_the_field(env: Env):
    sec = env.token("sec")
    mid = a_meeting(env, sec)
    for value in EXTREME_TIMES:
        payload = {"kind": "lesson", "starts_at": value}
        names(
            env.api.post("/api/v1/meetings", token=sec, json=payload),
            400,
            "invalid_field",
            "starts_at",
        )
        payload = {"kind": "lesson", "starts_at": START.isoformat(), "ends_at": value}
        names(
            env.api.post("/api/v1/meetings", token=sec, json=payload),
            400,
            "invalid_field",
            "ends_at",
        )
        r = env.api.call("PATCH", f"/api/v1/meetings/{mid}", token=sec, json={"starts_at": value})
        names(r, 400, "invalid_field", "starts_at")
    # The last minute of the accepted range plus the longest duration stays computable.
    latest = env.settings.api.latest_year
    payload = {
        "kind": "lesson",
        "starts_at": f"{latest}-12-31T23:59:59-12:00",
        "duration_minutes": 24 * 60,
    }
    r = env.api.post("/api/v1/meetings", token=sec, json=payload)
    assert r.status_code < 500, r.text


def test_days_and_months_far_from_now_are_400_naming_the_field(env: Env):
    sec = env.token("sec")
    m1 = env.token("m1")
    for month in ("9999-12", "0001-01", "1899-12", "2101-01"):
        r = env.api.get("/api/v1/dues/branch", token=sec, params={"month": month})
        names(r, 400, "invalid_field", "month")
        r = env.api.post(
            "/api/v1/dues/reports", token=m1, json={"amount_fen": 100, "months": [month]}
        )
        names(r, 400, "invalid_field", "months")


# ---- bodies that are not JSON, and no token -----------------------------------------------------


def test_a_body_declared_as_something_else_than_json_is_415(env: Env):
    token = env.token("m1")
    for content_type, data in [
        ("application/x-www-form-urlencoded", "reflection=x"),
        ("text/plain", '{"reflection": "x"}'),
        ("multipart/form-data; boundary=x", "--x--"),
        ("application/xml", "<a/>"),
    ]:
        r = env.api.post(
            "/api/v1/study/checkins",
            token=token,
            data=data,
            headers={"Content-Type": content_type},
        )
        err(r, 415, "unsupported_media_type")
    r = env.api.post(
        "/api/v1/login",
        data="code=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    err(r, 415, "unsupported_media_type")
    # JSON with a charset or a +json type is JSON; an empty body needs no type at all.
    r = env.api.post(
        "/api/v1/study/checkins",
        token=token,
        data='{"reflection": "x"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201, r.text
    r = env.api.post(
        "/api/v1/study/checkins", token=token, data=b"", headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 200, r.text
    # Declared JSON that does not parse is a bad request (400), not a wrong media type.
    err(raw_post(env, "/api/v1/study/checkins", b'{"reflection": ', token), 400, "invalid_json")
    err(
        raw_post(env, "/api/v1/study/checkins", b'{"reflection": "\xff"}', token),
        400,
        "invalid_json",
    )
    with env.ctx():
        assert StudyCheckin.select().count() == 1


def test_no_token_is_401_before_the_body_is_read(env: Env):
    bodies = [
        ("application/json", '{"unknown": 1}'),
        ("application/json", '{"reflection": "\\ud800"}'),
        ("application/json", "[" * 30_000 + "]" * 30_000),
        ("application/json", "not json"),
        ("text/plain", "x"),
    ]
    routes = [
        "/api/v1/study/checkins",
        "/api/v1/bind",
        "/api/v1/meetings",
        "/api/v1/dues/payments",
    ]
    for path in routes:
        for content_type, data in bodies:
            headers = {"Content-Type": content_type}
            err(env.api.post(path, data=data, headers=headers), 401, "unauthorized")
            r = env.api.post(path, data=data, headers=headers, token="forged.token.value")
            err(r, 401, "token_invalid")
    r = env.api.call("PATCH", f"/api/v1/meetings/{2**64}", json={"title": "\x00"})
    err(r, 401, "unauthorized")
    r = env.api.get("/api/v1/meetings", params={"branch_id": "x" * 100})
    err(r, 401, "unauthorized")


# ---- a busy database: a short retry, then 503 ---------------------------------------------------


class LockHolder:
    """Another writer holding the database's write lock (SQLite BEGIN IMMEDIATE, or an
    exclusive table lock on PostgreSQL) until released."""

    def __init__(self, db_url: str, table: str) -> None:
        if db_url.startswith("sqlite:///"):
            path = db_url[len("sqlite:///") :]
            # Released from the server's thread when a test says so.
            self.conn: Any = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.conn = psycopg2.connect(db_url)
            with self.conn.cursor() as cur:
                cur.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.conn.rollback()
            self.conn.close()


class Attempts(logging.Handler):
    """Counts the API's 'busy, trying again' warnings; runs ``on_first`` at the first one."""

    def __init__(self, on_first: Any = None) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.on_first = on_first

    def emit(self, record: logging.LogRecord) -> None:
        if "database busy" not in record.getMessage():
            return
        self.count += 1  # Handler.handle holds the handler's lock around emit
        if self.count == 1 and self.on_first:
            self.on_first()


@pytest.fixture
def busy_env(make_env) -> Env:
    return make_env(
        database={"lock_timeout": 0.2},
        api={"login_rate_per_minute": 1000, "busy_attempts": 3, "busy_retry_after_seconds": 7},
    )


@pytest.fixture
def attempts() -> Iterator[Attempts]:
    handler = Attempts()
    logger = logging.getLogger("api")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_locked_database_gets_retries_then_503_with_retry_after(busy_env: Env, db_url, attempts):
    env = busy_env
    token = env.token("m1")
    holder = LockHolder(db_url, "study_checkin")
    try:
        r = env.api.post("/api/v1/study/checkins", token=token, json={"reflection": "读党章"})
    finally:
        holder.release()
    msg = err(r, 503, "busy")
    assert "7 秒后重试" in msg
    assert r.headers["Retry-After"] == "7"
    assert attempts.count == 3  # every attempt met the lock
    with env.ctx():
        assert StudyCheckin.select().count() == 0
    r = env.api.post("/api/v1/study/checkins", token=token, json={"reflection": "读党章"})
    assert r.status_code == 201, r.text


def test_a_lock_released_during_the_retries_is_not_noticed(busy_env: Env, db_url, attempts):
    env = busy_env
    token = env.token("m1")
    holder = LockHolder(db_url, "study_checkin")
    attempts.on_first = holder.release
    try:
        r = env.api.post("/api/v1/study/checkins", token=token, json={"reflection": "读党章"})
    finally:
        holder.release()
    assert r.status_code == 201, r.text
    assert attempts.count == 1
    with env.ctx():
        assert StudyCheckin.select().count() == 1


def test_a_request_that_already_wrote_is_not_run_again(
    busy_env: Env, db_url, attempts, monkeypatch
):
    """Login counts the address, exchanges the single-use code, then counts the account: a lock
    met after the first write gives 503 at once, so nothing is counted or exchanged twice."""
    env = busy_env
    holders: list[LockHolder] = []
    exchanged: list[str] = []

    def exchange(settings: Any, code: str) -> WxSession:
        exchanged.append(code)
        holders.append(LockHolder(db_url, "rate_event"))
        return WxSession("mini-m1", None)

    monkeypatch.setattr("api.auth.code_to_session", exchange)
    try:
        r = env.api.post("/api/v1/login", json={"code": "one-time"})
    finally:
        for holder in holders:
            holder.release()
    err(r, 503, "busy")
    assert exchanged == ["one-time"]
    assert attempts.count == 1
    with env.ctx():
        assert RateEvent.select().count() == 1


# ---- a crash still answers JSON, and nothing here answered 5xx ---------------------------------


def test_hostile_bodies_on_every_body_route_never_get_a_5xx(env: Env):
    """Each documented route with a body, as the secretary, with each hostile body."""
    from api.openapi import document

    token = env.token("sec")
    mid = a_meeting(env, token)
    hostile = [
        '{"x": ' + "[" * 30_000 + "]" * 30_000 + "}",
        "{" + '"a":{' * 5_000 + "}" * 5_000 + "}",
        '{"reflection": "\\ud800", "code": "\\udfff", "reason": "\\ud800"}',
        json.dumps({"member_ids": [2**64 + 1], "member_id": 2**63, "amount_fen": -(2**70)}),
        json.dumps({"starts_at": "0001-01-01T00:00:00+08:00", "kind": "lesson"}),
        json.dumps({"title": "\x00", "kind": "lesson", "starts_at": START.isoformat()}),
        json.dumps({"months": ["9999-12"], "amount_fen": 1}),
        '{"code": ' + "1" * 5000 + "}",
        "1e999999",
        '"\\u0000"',
    ]
    for path, ops in document()["paths"].items():
        for method in ops:
            if method not in ("post", "patch"):
                continue
            url = path.replace("{meeting_id}", str(mid)).replace("{leave_id}", "1")
            url = url.replace("{report_id}", "1").replace("{payment_id}", "1")
            url = url.replace("{member_id}", str(env.people["m1"].id))
            for data in hostile:
                r = env.api.call(
                    method.upper(),
                    url,
                    token=token,
                    data=data,
                    headers={"Content-Type": "application/json"},
                )
                assert r.status_code < 500, (method, url, data[:60], r.text[:200])
