"""Test the WeChat/WeCom clients against the local fake WeChat over real HTTP."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
import time_machine

from bot import clients
from bot.clients import (
    QR_MAX_EXPIRE,
    DatabaseStorage,
    OfficialClient,
    WeChatApiError,
    create_meeting_qr,
    official_client,
    qr_image_url,
    refresh_official_token,
    work_client,
)
from bot.fake import FakeClock, FakeWeChat
from core.clock import utcnow
from models.base import db
from models.wechat import SharedValue
from tests.support.apps import make_app

START = 1_700_000_000.0
APPID = "wxclientstest0001"
SECRET = "clients-test-secret-8c1f2a9d"
CORP_SECRET = "clients-test-corp-secret-77ab"
QR_PATH = "/cgi-bin/qrcode/create"
STABLE_PATH = "/cgi-bin/stable_token"
TOKEN_PATH = "/cgi-bin/token"
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    """Start a fake WeChat whose app credentials match the test settings."""
    clock = FakeClock(START)
    with FakeWeChat(appid=APPID, secret=SECRET, corp_secret=CORP_SECRET, clock=clock) as server:
        yield server


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Iterator[dict[str, dict[str, Any]]]:
    """Return settings of an app on a fresh database, its WeChat API pointed at the fake."""
    wechat = {"api_base_url": fake.base_url, "app_id": APPID, "app_secret": SECRET}
    app = make_app(db_url, wechat=wechat)
    yield app.config["ZHIBU"]
    if not db.is_closed():
        db.close()


def qr_body(scene: str = "meeting-1") -> dict[str, Any]:
    """Return a QR_STR_SCENE request body."""
    return {
        "expire_seconds": 600,
        "action_name": "QR_STR_SCENE",
        "action_info": {"scene": {"scene_str": scene}},
    }


def stored_token() -> str | None:
    """Return the official-account token stored in the database."""
    return DatabaseStorage().get(f"wechat:oa:{APPID}:access_token")


def warm(settings: dict[str, dict[str, Any]], fake: FakeWeChat) -> str:
    """Make one successful call so a token is stored; return that token."""
    official_client(settings).qrcode.create(qr_body())
    token = stored_token()
    assert token
    return token


# ----- shared storage ------------------------------------------------------------------------


def test_token_is_stored_in_the_database_and_shared_by_two_clients(settings, fake):
    first = official_client(settings)
    second = official_client(settings)  # another process: its own memory and HTTP session
    assert first.qrcode.create(qr_body("a"))["ticket"]
    assert second.qrcode.create(qr_body("b"))["ticket"]
    assert fake.token_calls == 1
    assert fake.calls[STABLE_PATH] == 1 and fake.calls[TOKEN_PATH] == 0
    assert fake.calls[QR_PATH] == 2
    with db.connection_context():
        row = SharedValue.get(SharedValue.key == f"wechat:oa:{APPID}:access_token")
    assert isinstance(json.loads(row.value), str)
    remaining = row.expires_at - utcnow()
    assert timedelta(seconds=7100) < remaining <= timedelta(seconds=7200)


def test_storage_round_trips_json_and_honours_ttl(settings):
    storage = DatabaseStorage()
    storage.set("k", {"n": 1, "名": "值"}, ttl=60)
    assert storage.get("k") == {"n": 1, "名": "值"}
    storage.set("k", [1, 2])  # overwrite, no expiry
    assert storage.get("k") == [1, 2] and storage.entry("k").expires_at is None
    storage.set("short", "v", ttl=30)
    with time_machine.travel(utcnow() + timedelta(seconds=31)):
        assert storage.get("short", "gone") == "gone"
        assert storage.entry("short") is None
    assert storage.discard("k", [9]) is False and storage.get("k") == [1, 2]
    assert storage.discard("k", [1, 2]) is True and storage.get("k") is None
    storage.set("d", 1)
    storage.delete("d")
    assert storage.get("d") is None


def test_storage_reuses_an_open_connection_and_leaves_it_open(settings):
    storage = DatabaseStorage()
    with db.connection_context():
        connection = db.connection()
        storage.set("k", "v", ttl=60)
        assert storage.get("k") == "v"
        assert not db.is_closed() and db.connection() is connection
    assert db.is_closed()
    assert storage.get("k") == "v"  # opened and closed its own connection
    assert db.is_closed()


def test_wecom_token_is_shared_and_its_key_holds_no_secret(settings, fake):
    for _ in range(2):
        client = work_client(settings, fake.corp_id, CORP_SECRET, base_url=fake.base_url)
        assert client.appchat.send_text("chat-1", "开会啦")["errcode"] == 0
    assert fake.calls["/cgi-bin/gettoken"] == 1
    assert [m["body"]["text"]["content"] for m in fake.messages("appchat")] == ["开会啦"] * 2
    with db.connection_context():
        keys = [row.key for row in SharedValue.select()]
    assert len(keys) == 1 and keys[0].startswith("wecom:wwdemocorp:")
    assert CORP_SECRET[:10] not in keys[0]


def test_hard_coded_wechatpy_bases_are_rebased_to_the_configured_root(settings, fake):
    fake.add_subscribe_credit(OPENID, "tpl-1")
    client = official_client(settings)  # wxa's API_BASE_URL is https://api.weixin.qq.com/
    answer = client.wxa.send_subscribe_message(OPENID, "tpl-1", {"thing1": {"value": "学习"}})
    assert answer["errcode"] == 0
    assert len(fake.messages("subscribe", OPENID)) == 1


def test_production_base_reaches_the_fake_through_a_mounted_session(settings, fake):
    wechat = settings.wechat.model_copy(update={"api_base_url": clients.OFFICIAL_API_ROOT})
    prod = settings.model_copy(update={"wechat": wechat})
    with requests.Session() as session:
        fake.mount(session)  # https://api.weixin.qq.com and mp.weixin.qq.com now reach the fake
        client = official_client(prod, session=session)
        qr = create_meeting_qr(prod, "meeting-7", 60, client=client)
        assert qr.url.startswith(clients.SHOWQRCODE_URL + "?ticket=")
        assert session.get(qr.url, timeout=5).status_code == 200
    assert fake.qrcode_scene(qr.ticket) == "meeting-7"
    assert fake.calls[STABLE_PATH] == 1  # the token URL follows the base too


def test_built_clients_never_use_wechatpy_auto_retry(settings, fake):
    official = official_client(settings)
    wecom = work_client(settings, fake.corp_id, CORP_SECRET, base_url=fake.base_url)
    assert official.auto_retry is False and wecom.auto_retry is False
    assert isinstance(official.session, DatabaseStorage)
    assert isinstance(wecom.session, DatabaseStorage)


# ----- N5: one renewal, one retry, never a loop ----------------------------------------------


def test_revoked_token_is_renewed_once_and_the_call_retried_once(settings, fake):
    old = warm(settings, fake)
    qr_before, tokens_before = fake.calls[QR_PATH], fake.token_calls
    fake.revoke_tokens()
    answer = official_client(settings).qrcode.create(qr_body("after-revoke"))
    assert fake.qrcode_scene(answer["ticket"]) == "after-revoke"
    assert fake.calls[QR_PATH] - qr_before == 2
    assert fake.token_calls - tokens_before == 1
    assert stored_token() not in (None, old)


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_persistent_token_error_raises_after_exactly_one_retry(settings, fake, errcode):
    warm(settings, fake)
    qr_before, tokens_before = fake.calls[QR_PATH], fake.token_calls
    fake.inject(QR_PATH, errcode=errcode, times=None)
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings).qrcode.create(qr_body())
    assert caught.value.errcode == errcode and caught.value.api == QR_PATH
    assert fake.calls[QR_PATH] - qr_before == 2
    assert fake.token_calls - tokens_before <= 1


def test_token_renewed_by_another_process_is_reused_without_a_token_call(
    settings, fake, monkeypatch
):
    stale = warm(settings, fake)
    fake.revoke_tokens()
    official_client(settings).renew_token()  # another process renews first
    fresh = stored_token()
    assert fresh != stale
    tokens_before = fake.token_calls
    # This process read the token just before the renewal: its first attempt uses the stale one.
    monkeypatch.setattr(OfficialClient, "access_token", property(lambda self: stale))
    assert official_client(settings).qrcode.create(qr_body())["ticket"]
    assert fake.token_calls == tokens_before
    assert stored_token() == fresh


def test_other_errors_are_not_retried(settings, fake):
    warm(settings, fake)
    qr_before, tokens_before = fake.calls[QR_PATH], fake.token_calls
    fake.inject(QR_PATH, errcode=-1, times=None)
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings).qrcode.create(qr_body())
    assert caught.value.errcode == -1 and caught.value.transient
    fake.clear_faults()
    fake.inject(QR_PATH, http_status=502)
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings).qrcode.create(qr_body())
    assert caught.value.errcode is None and caught.value.http_status == 502
    assert fake.calls[QR_PATH] - qr_before == 2
    assert fake.token_calls == tokens_before


# ----- timeouts and quota ----------------------------------------------------------------------


# The fake would answer after its latency (and then successfully): a timeout error proves the
# client gave up at its own timeout instead of waiting, without timing anything.


def test_slow_api_gives_up_at_the_timeout(settings, fake):
    warm(settings, fake)
    fake.inject(QR_PATH, latency=3.0)
    client = official_client(settings, timeout=0.3)
    with pytest.raises(WeChatApiError) as caught:
        client.qrcode.create(qr_body())
    assert caught.value.errcode is None and "no answer within 0.3 s" in str(caught.value)
    assert caught.value.transient


def test_slow_token_endpoint_gives_up_at_the_timeout(settings, fake, monkeypatch):
    monkeypatch.setattr(clients, "REQUEST_TIMEOUT", 0.3)
    fake.inject(STABLE_PATH, latency=3.0)
    client = official_client(settings)
    assert client.timeout == 0.3
    with pytest.raises(WeChatApiError) as caught:
        client.qrcode.create(qr_body())
    assert caught.value.api == STABLE_PATH and caught.value.transient
    assert "no answer within 0.3 s" in str(caught.value)
    assert fake.calls[QR_PATH] == 0


def test_connect_and_read_timeouts_apart(settings, fake):
    """A (connect, read) pair: a late answer is waited for up to the read timeout."""
    warm(settings, fake)
    fake.inject(QR_PATH, hold=0.5)
    client = official_client(settings, timeout=(0.2, 30.0))
    assert client.qrcode.create(qr_body())["ticket"]  # longer than the connect timeout: fine
    fake.inject(QR_PATH, hold=3.0)
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings, timeout=(30.0, 0.3)).qrcode.create(qr_body())
    assert "no answer within 0.3 s" in str(caught.value)


def test_default_timeout_is_the_module_constant(settings):
    assert official_client(settings).timeout == clients.REQUEST_TIMEOUT == 5.0


def test_quota_exhaustion_is_a_clear_error_without_a_loop(settings, fake):
    fake.exhaust_quota()
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings).qrcode.create(qr_body())
    assert caught.value.errcode == 45009 and "45009" in str(caught.value)
    assert fake.token_calls == 1 and fake.calls[QR_PATH] == 0


def test_quota_exhaustion_during_a_retry_stops_after_one_token_call(settings, fake):
    warm(settings, fake)
    qr_before, tokens_before = fake.calls[QR_PATH], fake.token_calls
    fake.revoke_tokens()
    fake.exhaust_quota()
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings).qrcode.create(qr_body())
    assert caught.value.errcode == 45009
    assert fake.calls[QR_PATH] - qr_before == 1
    assert fake.token_calls - tokens_before == 1


# ----- stable_token and its fallback -----------------------------------------------------------


@pytest.mark.parametrize("fault", [{"errcode": 48001}, {"http_status": 404}])
def test_unsupported_stable_token_falls_back_to_plain_token(settings, fake, fault):
    fake.inject(STABLE_PATH, times=None, **fault)
    client = official_client(settings)
    assert client.qrcode.create(qr_body())["ticket"]
    assert fake.calls[STABLE_PATH] == 1 and fake.calls[TOKEN_PATH] == 1
    client.renew_token()  # the client remembers: straight to /cgi-bin/token
    assert fake.calls[STABLE_PATH] == 1 and fake.calls[TOKEN_PATH] == 2


@pytest.mark.parametrize("errcode", [-1, 40125, 40164])
def test_other_stable_token_errors_do_not_fall_back(settings, fake, errcode):
    fake.inject(STABLE_PATH, errcode=errcode)
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings).qrcode.create(qr_body())
    assert caught.value.errcode == errcode
    assert fake.calls[STABLE_PATH] == 1 and fake.calls[TOKEN_PATH] == 0


# ----- refresh_official_token ----------------------------------------------------------------


def test_refresh_fetches_a_missing_token_then_leaves_a_fresh_one_alone(settings, fake):
    expires_at = refresh_official_token(settings)
    assert fake.token_calls == 1
    assert timedelta(seconds=7100) < expires_at - utcnow() <= timedelta(seconds=7200)
    assert refresh_official_token(settings) == expires_at
    assert fake.token_calls == 1
    official_client(settings).qrcode.create(qr_body())  # request paths reuse it
    assert fake.token_calls == 1


def test_refresh_renews_a_token_within_ten_minutes_of_expiry(settings, fake):
    refresh_official_token(settings)
    old = stored_token()
    ahead = 7200 - 250  # inside the 10-minute margin and the stable_token 5-minute window
    fake.clock.advance(ahead)
    with time_machine.travel(utcnow() + timedelta(seconds=ahead)):
        expires_at = refresh_official_token(settings)
        assert fake.token_calls == 2
        assert stored_token() not in (None, old)
        assert expires_at - utcnow() > timedelta(seconds=7100)
        official_client(settings).qrcode.create(qr_body())
    assert fake.token_calls == 2


def test_refresh_renews_a_stored_token_that_expires_soon(settings, fake):
    refresh_official_token(settings)
    token = stored_token()
    DatabaseStorage().set(f"wechat:oa:{APPID}:access_token", token, ttl=9 * 60)
    expires_at = refresh_official_token(settings)
    assert fake.token_calls == 2
    # stable_token hands back the same, still long-lived token: no invalidation of others.
    assert stored_token() == token
    assert expires_at - utcnow() > timedelta(minutes=10)
    DatabaseStorage().set(f"wechat:oa:{APPID}:access_token", token, ttl=11 * 60)
    refresh_official_token(settings)
    assert fake.token_calls == 2


# ----- meeting QR codes ----------------------------------------------------------------------


def test_create_meeting_qr_returns_a_ticket_mapped_to_the_scene(settings, fake):
    before = utcnow()
    qr = create_meeting_qr(settings, "meeting:42", 600)
    assert fake.qrcode_scene(qr.ticket) == "meeting:42"
    assert qr.url.startswith(fake.base_url + "/cgi-bin/showqrcode?ticket=")
    image = requests.get(qr.url, timeout=5)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/gif"
    assert before + timedelta(seconds=600) <= qr.expires_at <= utcnow() + timedelta(seconds=600)
    assert qr.content_url.startswith("http://weixin.qq.com/q/")


def test_create_meeting_qr_caps_the_lifetime(settings, fake):
    qr = create_meeting_qr(settings, "m" * 64, 10**9)  # the fake refuses more than 30 days
    assert fake.qrcode_scene(qr.ticket) == "m" * 64
    lifetime = qr.expires_at - utcnow()
    assert timedelta(seconds=QR_MAX_EXPIRE - 60) < lifetime <= timedelta(seconds=QR_MAX_EXPIRE)


@pytest.mark.parametrize(
    ("scene", "expire"),
    [("", 600), ("x" * 65, 600), (42, 600), ("bad\nscene", 600), ("ok", 0), ("ok", -5)]
    + [("ok", True), ("ok", 60.0), (None, 600)],
)
def test_create_meeting_qr_refuses_bad_input_before_any_request(settings, fake, scene, expire):
    with pytest.raises(ValueError):
        create_meeting_qr(settings, scene, expire)
    assert sum(fake.calls.values()) == 0


def test_create_meeting_qr_reports_a_non_json_answer(settings, fake):
    warm(settings, fake)
    fake.inject(QR_PATH, body="<html>gateway</html>")
    with pytest.raises(WeChatApiError) as caught:
        create_meeting_qr(settings, "meeting-1", 60)
    assert caught.value.api == QR_PATH and "not JSON" in str(caught.value)


def test_production_qr_images_come_from_mp_weixin():
    url = qr_image_url("gQ/ab+c=", "https://api.weixin.qq.com/")
    assert url == "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQ%2Fab%2Bc%3D"
    assert (
        qr_image_url("t", "http://127.0.0.1:9/")
        == "http://127.0.0.1:9/cgi-bin/showqrcode?ticket=t"
    )


# ----- secrets --------------------------------------------------------------------------------


def test_secret_and_tokens_never_reach_logs_or_errors(settings, fake, caplog):
    caplog.set_level(logging.DEBUG)
    fake.inject(STABLE_PATH, errcode=48001)  # the fallback puts the secret in a query string
    first = warm(settings, fake)
    fake.inject(QR_PATH, errcode=40001, times=None)
    with pytest.raises(WeChatApiError) as caught:
        official_client(settings).qrcode.create(qr_body())
    second = stored_token()
    assert second and second != first
    fake.clear_faults()
    fake.inject(QR_PATH, latency=2.0)
    with pytest.raises(WeChatApiError) as timed_out:
        official_client(settings, timeout=0.2).qrcode.create(qr_body())
    text = caplog.text
    assert TOKEN_PATH in text and QR_PATH in text  # urllib3's request lines were captured
    for secret in (SECRET, first, second):
        assert secret not in text
        for exc in (caught.value, timed_out.value):
            assert secret not in str(exc) and secret not in repr(exc)
    assert "access_token=***" in text and "secret=***" in text
