"""The /wechat front door under attack: signatures, replay windows, hostile XML, fuzzing (W3-W6).

Everything goes over real HTTP to a live server unless a test says otherwise; the valid requests
come from the callback driver (`wrap()`), and the tests tamper with them.
"""

from __future__ import annotations

import base64
import http.server
import math
import os
import secrets
import string
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import requests
import xmltodict
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import to_text

from bot.simulate import CallbackDriver, ReplyError, cdata, sign
from core.clock import local_now
from models.base import db
from models.study import StudyCheckin
from models.wechat import InboundMessage
from tests import factories as f
from tests.support.apps import LiveServer, make_app, make_driver
from tests.support.procs import Gunicorn

# A guard against a refusal that runs on (expansion, tree building), not a speed target: ten
# times a normal answer on a busy 2-core machine. Speed is measured in bench/.
HANG_BOUND = 1.0
CAP = 65536  # the default app.max_body_bytes
FUZZ_EXAMPLES = 2000 if os.environ.get("CI") == "true" else 300
HTTP_FUZZ_EXAMPLES = 50

# ---- wechatpy's own test vectors ----------------------------------------------------------
# tests/test_crypto.py (CryptoTestCase.test_decrypt_message) in github.com/wechatpy/wechatpy:
# the encrypted text message "test" from "messense". The cipher format (random16 + length +
# XML + id) is the same for the official account, so WeChatCrypto decrypts it with the id as
# the appid.
VEC_TOKEN = "123456"
VEC_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
VEC_APPID = "wx49f0ab532d5d035a"
VEC_TIMESTAMP = "1411525903"
VEC_NONCE = "461056294"
VEC_MSG_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
VEC_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
    "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
    "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQi"
    "MS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQi"
    "pvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
VEC_BODY = (
    "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n"
    f"<Encrypt><![CDATA[{VEC_ENCRYPT}]]></Encrypt>\n"
    "<AgentID><![CDATA[1]]></AgentID>\n"
    "</xml>"
)
# tests/test_utils.py (UtilityTestCase.test_check_signature_should_ok): the plain signature.
VEC_PLAIN_TOKEN = "test"
VEC_PLAIN_SIGNATURE = "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
VEC_PLAIN_TIMESTAMP = "1410685589"
VEC_PLAIN_NONCE = "test"
# The vectors are from 2014: only these tests widen the replay window (about 300 years) so
# that the old timestamps pass; every other test runs with the default 300 s.
ANCIENT_WINDOW = 10**10

HEX = "0123456789abcdef"
B64 = string.ascii_letters + string.digits + "+/="


# ---- a file no request may ever read, and a URL no request may ever fetch ------------------

_READS: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and args and "zhibu-xxe-canary" in str(args[0]):
        _READS.append(str(args[0]))


sys.addaudithook(_audit)  # cannot be removed; records only opens of the canary file


@pytest.fixture(scope="module")
def canary_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xxe") / "zhibu-xxe-canary.txt"
    path.write_text("root:x:0:0:CANARY-SECRET:/root:/bin/bash\n")
    return path


class _Canary(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.hits.append(self.path)
        body = b'<!ENTITY ext "root:CANARY-FETCHED">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def canary_url() -> Iterator[str]:
    """A local HTTP server that records every fetch: an XXE that resolves shows up here."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


# ---- a live server in either mode -----------------------------------------------------------


@dataclass(frozen=True)
class Result:
    status: int
    text: str
    elapsed: float


@dataclass
class Server:
    """The app on a live HTTP server, with a driver and a session to talk to it."""

    app: Any
    live: LiveServer
    driver: CallbackDriver
    session: requests.Session

    @property
    def mode(self) -> str:
        return self.driver.mode

    @property
    def url(self) -> str:
        return self.live.url + "/wechat"

    def post(self, params: dict[str, str], body: bytes | Any, **kw: Any) -> Result:
        began = time.perf_counter()
        r = self.session.post(
            self.url, params=params, data=body, timeout=10,
            headers={"Content-Type": "text/xml", **kw.pop("headers", {})}, **kw,
        )  # fmt: skip
        return Result(r.status_code, r.text, time.perf_counter() - began)

    def get(self, params: dict[str, str]) -> Result:
        began = time.perf_counter()
        r = self.session.get(self.url, params=params, timeout=10)
        return Result(r.status_code, r.text, time.perf_counter() - began)

    def count(self, model: Any) -> int:
        with self.app.app_context(), db.connection_context():
            return model.select().count()

    # Requests that get past the signature check, carrying `payload` where the parser sees it.

    def signed(self, payload: bytes) -> tuple[dict[str, str], bytes]:
        """Plain mode: a valid signature and `payload` as the body.
        Safe mode: `payload` sealed (encrypted with our key and appid) in a signed envelope."""
        if self.mode == "plain":
            return plain_params(self.driver.token), payload
        return seal(self.driver, payload)

    def outer(self, payload: bytes) -> tuple[dict[str, str], bytes]:
        """A valid query string and `payload` as the raw body (what the outer parser sees)."""
        params, _ = self.driver.wrap(self.driver.text_xml("o-outer", "帮助"))
        return params, payload


def start_live(app: Any) -> LiveServer:
    """conftest's LiveServer, polling for shutdown every 50 ms instead of 500 ms."""
    live = LiveServer(app)
    live.thread = threading.Thread(
        target=live.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    return live.start()


@contextmanager
def serve(db_url: str, **overrides: Any) -> Iterator[Server]:
    """Build the app with overrides, serve it over HTTP, and stop it afterwards."""
    app = make_app(db_url, **overrides)
    live = start_live(app)
    session = requests.Session()
    try:
        assert session.get(live.url + "/healthz", timeout=5).status_code == 200  # warm up
        yield Server(app, live, make_driver(app.config["ZHIBU"], live.url), session)
    finally:
        session.close()
        live.stop()
        if not db.is_closed():
            db.close()


@pytest.fixture(params=["safe", "plain"])
def server(request: pytest.FixtureRequest, db_url: str) -> Iterator[Server]:
    with serve(db_url, wechat={"mode": request.param}) as s:
        yield s


@pytest.fixture(params=["safe", "plain"])
def roomy_server(request: pytest.FixtureRequest, db_url: str) -> Iterator[Server]:
    """A server with a 1 MB body cap: room for 20,000 well-formed nesting levels."""
    with serve(db_url, wechat={"mode": request.param}, app={"max_body_bytes": 1 << 20}) as s:
        yield s


# ---- building requests by hand --------------------------------------------------------------


def nonce() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(10))


def plain_params(token: str, timestamp: str | None = None, n: str | None = None) -> dict[str, str]:
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    n = nonce() if n is None else n
    return {"signature": sign(token, timestamp, n), "timestamp": timestamp, "nonce": n}


def envelope(
    driver: CallbackDriver, encrypt: str, timestamp: str | None = None, n: str | None = None
) -> tuple[dict[str, str], bytes]:
    """A safe-mode request whose msg_signature is valid for exactly this Encrypt text."""
    params = plain_params(driver.token, timestamp, n)
    params["encrypt_type"] = "aes"
    params["msg_signature"] = sign(driver.token, params["timestamp"], params["nonce"], encrypt)
    body = (
        f"<xml><ToUserName>{cdata(driver.account)}</ToUserName>"
        f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
    )
    return params, body.encode("utf-8")


def seal(
    driver: CallbackDriver,
    plaintext: str | bytes,
    *,
    crypto: WeChatCrypto | None = None,
    app_id: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """Encrypt any plaintext (even bytes that are not XML or not UTF-8) and sign it validly."""
    crypto = crypto or driver.crypto
    encrypt = to_text(
        PrpCrypto(crypto.key).encrypt(plaintext, crypto._id if app_id is None else app_id)
    )
    return envelope(driver, encrypt)


def one_char_changes(value: str, alphabet: str) -> Iterator[tuple[int, str]]:
    """Every variant of `value` with exactly one character replaced by another."""
    for i, c in enumerate(value):
        if c in alphabet:
            other = alphabet[(alphabet.index(c) + 1) % len(alphabet)]
        else:
            other = "A" if c != "A" else "B"
        yield i, value[:i] + other + value[i + 1 :]


def decrypt_reply(driver: CallbackDriver, text: str) -> dict[str, Any]:
    """The reply XML as a dict (decrypted and verified in safe mode)."""
    outer = xmltodict.parse(text)["xml"]
    if driver.mode == "safe":
        inner = driver.crypto.decrypt_message(
            text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
        )
        return xmltodict.parse(inner)["xml"]
    return outer


def reply_is_safe(server: Server, r: Result, secrets_: tuple[str, ...] = ("root:",)) -> None:
    """The answer is a refusal (400/403) or a reply WeChat would accept, never a 5xx or a leak."""
    assert r.status < 500, f"{r.status}: {r.text[:300]!r}"
    if r.status == 200:
        server.driver.read_reply(r.text)  # raises ReplyError unless success / valid XML
        shown = r.text if r.text == "success" else str(decrypt_reply(server.driver, r.text))
        for secret in secrets_:
            assert secret not in shown
    else:
        assert r.status in (400, 403), f"{r.status}: {r.text[:300]!r}"
    for secret in secrets_:
        assert secret not in r.text


# ---- W3: wechatpy's vectors, and one changed character ----------------------------------------


@pytest.fixture
def vector_server(db_url: str) -> Iterator[Server]:
    # The vector's timestamp is from 2014: a window of ~300 years for this test only.
    with serve(
        db_url,
        wechat={
            "mode": "safe",
            "token": VEC_TOKEN,
            "encoding_aes_key": VEC_AES_KEY,
            "app_id": VEC_APPID,
            "timestamp_window": ANCIENT_WINDOW,
        },
    ) as s:
        yield s


def _vector_params(**changes: str) -> dict[str, str]:
    params = {
        "timestamp": VEC_TIMESTAMP,
        "nonce": VEC_NONCE,
        "encrypt_type": "aes",
        "msg_signature": VEC_MSG_SIGNATURE,
        "signature": sign(VEC_TOKEN, VEC_TIMESTAMP, VEC_NONCE),
        "openid": "messense",
    }
    params.update(changes)
    return params


def test_wechatpys_own_test_vector_decrypts_through_the_endpoint(vector_server: Server) -> None:
    r = vector_server.post(_vector_params(), VEC_BODY.encode())
    assert r.status == 200, r.text
    reply = decrypt_reply(vector_server.driver, r.text)  # encrypted back with the same key
    assert reply["ToUserName"] == "messense"  # it answered the sender inside the vector
    assert reply["FromUserName"] == "wx49f0ab532d5d035a"
    assert "绑定" in reply["Content"]  # "test" from an unbound account: how to bind
    assert vector_server.count(InboundMessage) == 1


def test_one_changed_character_of_a_signed_request_is_403_every_time(
    vector_server: Server,
) -> None:
    assert vector_server.post(_vector_params(), VEC_BODY.encode()).status == 200
    cases: list[tuple[str, dict[str, str], str]] = []
    for i, sig in one_char_changes(VEC_MSG_SIGNATURE, HEX):
        cases.append((f"msg_signature[{i}]", _vector_params(msg_signature=sig), VEC_BODY))
    for i, n in one_char_changes(VEC_NONCE, string.digits):
        cases.append((f"nonce[{i}]", _vector_params(nonce=n), VEC_BODY))
    for i, ts in one_char_changes(VEC_TIMESTAMP, string.digits):
        cases.append((f"timestamp[{i}]", _vector_params(timestamp=ts), VEC_BODY))
    for i, enc in one_char_changes(VEC_ENCRYPT, B64):
        cases.append((f"Encrypt[{i}]", _vector_params(), VEC_BODY.replace(VEC_ENCRYPT, enc)))
    assert len(cases) > 450
    wrong = []
    for name, params, body in cases:
        r = vector_server.post(params, body.encode())
        if r.status != 403:
            wrong.append((name, r.status, r.text[:80]))
    assert wrong == [], (
        f"{len(wrong)} of {len(cases)} tampered requests were not 403: {wrong[:10]}"
    )
    assert vector_server.count(InboundMessage) == 1  # none of them reached the handlers


@pytest.fixture
def plain_vector_server(db_url: str) -> Iterator[Server]:
    # The vector's timestamp is from 2014: a window of ~300 years for this test only.
    with serve(
        db_url,
        wechat={"mode": "plain", "token": VEC_PLAIN_TOKEN, "timestamp_window": ANCIENT_WINDOW},
    ) as s:
        yield s


def _plain_vector(**changes: str) -> dict[str, str]:
    params = {
        "signature": VEC_PLAIN_SIGNATURE,
        "timestamp": VEC_PLAIN_TIMESTAMP,
        "nonce": VEC_PLAIN_NONCE,
    }
    params.update(changes)
    return params


def test_the_plain_mode_signature_vector_passes_get_verify_and_post(
    plain_vector_server: Server,
) -> None:
    server = plain_vector_server
    echostr = "5837397520372869183"
    r = server.get({**_plain_vector(), "echostr": echostr})
    assert (r.status, r.text) == (200, echostr)
    xml = server.driver.text_xml("o-plain-vector", "帮助")
    r = server.post(_plain_vector(), xml.encode())
    assert r.status == 200 and "您可以发送" in (server.driver.read_reply(r.text) or "")

    cases = []
    for i, sig in one_char_changes(VEC_PLAIN_SIGNATURE, HEX):
        cases.append((f"signature[{i}]", _plain_vector(signature=sig)))
    for i, n in one_char_changes(VEC_PLAIN_NONCE, string.ascii_lowercase):
        cases.append((f"nonce[{i}]", _plain_vector(nonce=n)))
    for i, ts in one_char_changes(VEC_PLAIN_TIMESTAMP, string.digits):
        cases.append((f"timestamp[{i}]", _plain_vector(timestamp=ts)))
    cases.append(("no signature", {k: v for k, v in _plain_vector().items() if k != "signature"}))
    wrong = []
    for name, params in cases:
        g = server.get({**params, "echostr": echostr})
        p = server.post(params, server.driver.text_xml("o-plain-vector", "帮助").encode())
        if g.status != 403 or echostr in g.text:
            wrong.append(("GET " + name, g.status))
        if p.status != 403:
            wrong.append(("POST " + name, p.status))
    assert wrong == []
    assert server.count(InboundMessage) == 1


def test_get_verify_returns_echostr_in_both_modes(server: Server) -> None:
    params = plain_params(server.driver.token)
    r = server.get({**params, "echostr": "echo-中文-<x>&1"})
    assert (r.status, r.text) == (200, "echo-中文-<x>&1")
    bad = dict(params, signature=params["signature"][::-1])
    assert server.get({**bad, "echostr": "e"}).status == 403
    assert server.get({"echostr": "e"}).status == 403


# ---- W4: the replay window --------------------------------------------------------------------


def _timestamp(offset: int) -> str:
    """now + offset, rounded so the server's later clock reading keeps us on the right side.

    Inside the window (|offset| < window) round towards the present; outside, away from it.
    """
    now = time.time()
    inward = offset < 0
    if abs(offset) >= 300:
        inward = not inward
    base = math.ceil(now) if inward else math.floor(now)
    return str(base + offset)


@pytest.mark.parametrize(
    ("offset", "status"), [(-301, 403), (301, 403), (-299, 200), (299, 200), (-86400, 403)]
)
def test_only_timestamps_within_the_window_are_accepted(
    server: Server, offset: int, status: int
) -> None:
    ts = _timestamp(offset)
    params, body = server.driver.wrap(server.driver.text_xml("o-window", "帮助"), timestamp=ts)
    r = server.post(params, body)
    assert r.status == status, (offset, r.status, r.text[:100])
    if status == 200:
        assert "您可以发送" in (server.driver.read_reply(r.text) or "")
    g = server.get({**plain_params(server.driver.token, ts), "echostr": "e"})
    assert g.status == status
    assert server.count(InboundMessage) == (1 if status == 200 else 0)


@pytest.mark.parametrize(("offset", "status"), [(-61, 403), (61, 403), (-59, 200), (59, 200)])
def test_the_timestamp_window_is_configurable(db_url: str, offset: int, status: int) -> None:
    with serve(db_url, wechat={"timestamp_window": 60}) as server:
        now = time.time()
        inward = offset < 0 if abs(offset) < 60 else offset > 0
        ts = str((math.ceil(now) if inward else math.floor(now)) + offset)
        params, body = server.driver.wrap(server.driver.text_xml("o-w60", "帮助"), timestamp=ts)
        assert server.post(params, body).status == status


# Validly signed, but not an ASCII decimal number of seconds. "²" and "①" are str.isdigit()
# yet int() refuses them; 400 digits pass int() but overflow a float against time.time().
ODD_TIMESTAMPS = ["", "-1", "1e9", "0x10", " 1", "1²", "²", "①", "1" * 400, "9" * 5000]


@pytest.mark.parametrize("ts", ODD_TIMESTAMPS, ids=lambda t: ascii(t)[:12])
def test_a_timestamp_must_be_ascii_digits(server: Server, ts: str) -> None:
    params, body = server.driver.wrap(server.driver.text_xml("o-ts", "帮助"))
    params["timestamp"] = ts
    params["signature"] = sign(server.driver.token, ts, params["nonce"])
    if "msg_signature" in params:
        enc = xmltodict.parse(body)["xml"]["Encrypt"]
        params["msg_signature"] = sign(server.driver.token, ts, params["nonce"], enc)
    r = server.post(params, body)
    assert r.status == 403, (ts, r.status, r.text[:100])
    g = server.get({**plain_params(server.driver.token, ts), "echostr": "e"})
    assert g.status == 403, (ts, g.status)


# Validly signed nonces WeChat would never send. In safe mode the reply envelope echoes the
# nonce (wechatpy writes it into <Nonce><![CDATA[...]]></Nonce> and signs it): such a nonce
# must be refused, or the reply must still be XML whose signature verifies.
ODD_NONCES = [
    " 1234",
    "1234 ",
    "12\x1f34",
    "a]]>b",
    "a]]><Encrypt>x</Encrypt><b><![CDATA[",
    "\u2028",
]


@pytest.mark.parametrize("n", ODD_NONCES, ids=lambda n: ascii(n)[:16])
def test_an_odd_nonce_is_refused_or_answered_validly(server: Server, n: str) -> None:
    d = server.driver
    xml = d.text_xml("o-nonce", "帮助")
    if server.mode == "safe":
        params, body = envelope(d, to_text(PrpCrypto(d.crypto.key).encrypt(xml, d.app_id)), n=n)
    else:
        params, body = plain_params(d.token, n=n), xml.encode()
    r = server.post(params, body)
    assert r.status in (200, 403), (r.status, r.text[:100])
    if r.status == 200:
        assert "您可以发送" in (server.driver.read_reply(r.text) or "")  # ReplyError if broken


# ---- W5: size cap -------------------------------------------------------------------------------


def _padded(server: Server, openid: str, size: int) -> tuple[dict[str, str], bytes]:
    """A valid, signed message padded to exactly `size` bytes with an element WeChat's parser
    ignores (in the message in plain mode, in the envelope in safe mode)."""
    params, body = server.driver.wrap(server.driver.text_xml(openid, "帮助"))
    pad = size - len(body) - len("<Pad></Pad>")
    return params, body.replace(b"</xml>", b"<Pad>" + b"x" * pad + b"</Pad></xml>")


def test_a_body_at_the_cap_is_served_and_one_byte_over_is_413_unparsed(server: Server) -> None:
    params, body = _padded(server, "o-at-cap", CAP)
    assert len(body) == CAP
    r = server.post(params, body)
    assert r.status == 200 and "您可以发送" in (server.driver.read_reply(r.text) or "")
    assert server.count(InboundMessage) == 1

    params, body = _padded(server, "o-over-cap", CAP + 1)
    assert len(body) == CAP + 1
    r = server.post(params, body)
    assert r.status == 413, (r.status, r.text[:200])
    r = server.post(params, body + b" " * (4 << 20))  # 4 MB more
    assert r.status == 413
    assert r.elapsed < 2.0
    assert server.count(InboundMessage) == 1  # the over-cap message never reached the parser


def _chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def test_a_chunked_body_without_content_length_is_capped_too(server: Server) -> None:
    params, body = _padded(server, "o-chunked-small", 2000)
    r = server.post(params, _chunks(body, 500))  # a generator: Transfer-Encoding: chunked
    assert r.status in (200, 400, 411), r.status  # small chunked: served or refused, not a crash
    served = 1 if r.status == 200 else 0
    params, body = _padded(server, "o-chunked-big", CAP + 1)
    try:
        r = server.post(params, _chunks(body))
        status = r.status
    except requests.ConnectionError:
        status = 0  # the server may close the connection on an oversized stream: acceptable
    assert status in (0, 400, 411, 413), status
    params, body = _padded(server, "o-chunked-huge", 3 * CAP)
    try:
        status = server.post(params, _chunks(body)).status
    except requests.ConnectionError:
        status = 0
    assert status in (0, 400, 411, 413), status
    assert server.count(InboundMessage) == served


def test_the_body_cap_holds_under_gunicorn_too(db_url: str, tmp_path: Path) -> None:
    """Production runs gunicorn, which de-chunks request bodies itself: same cap, same 413."""
    app = make_app(db_url)
    server = Gunicorn(db_url, tmp_path / "gunicorn.log", workers=1, threads=2).start()
    session = requests.Session()
    try:
        driver = make_driver(app.config["ZHIBU"], server.url)
        fake = Server(app, None, driver, session)  # type: ignore[arg-type]
        url = server.url + "/wechat"
        params, body = _padded(fake, "o-g-at-cap", CAP)
        r = session.post(url, params=params, data=body, timeout=10)
        assert r.status_code == 200 and "您可以发送" in (driver.read_reply(r.text) or "")
        params, body = _padded(fake, "o-g-over", CAP + 1)
        assert session.post(url, params=params, data=body, timeout=10).status_code == 413
        for size in (CAP + 1, 3 * CAP):
            params, body = _padded(fake, f"o-g-chunked-{size}", size)
            try:
                status = requests.post(
                    url, params=params, data=_chunks(body), timeout=10
                ).status_code
            except requests.ConnectionError:
                status = 0  # the connection closed on an oversized stream: acceptable
            assert status in (0, 400, 411, 413), (size, status)
        assert fake.count(InboundMessage) == 1
        assert "Traceback" not in server.log()
    finally:
        session.close()
        server.stop()
        if not db.is_closed():
            db.close()


# ---- W5: hostile XML ----------------------------------------------------------------------------


def _msg(
    content: str, *, openid: str = "o-hostile", doctype: str = "", raw: bool = False
) -> bytes:
    """A text message with `content` inserted as-is (raw) or in CDATA, and an optional DOCTYPE."""
    body = content if raw else cdata(content)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{doctype}'
        f"<xml><ToUserName><![CDATA[gh_zhibu_demo]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{body}</Content><MsgId>{secrets.randbelow(10**18)}</MsgId></xml>"
    ).encode()


GBK_DOC = '<?xml version="1.0" encoding="GBK"?><xml><Content>学习</Content></xml>'
LOLS = (
    '<!DOCTYPE xml [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def hostile_payloads(canary_url: str, canary_file: Path, depth: int = 20_000) -> dict[str, bytes]:
    """Bodies no parser of ours may act on, keyed by name; each fits under the 64 KB cap."""
    xxe_file = f'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file://{canary_file}">]>'
    xxe_passwd = '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    xxe_http = f'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "{canary_url}/xxe">]>'
    param = f'<!DOCTYPE xml [<!ENTITY % p SYSTEM "{canary_url}/param.dtd"> %p;]>'
    param_inline = "<!DOCTYPE xml [<!ENTITY % p \"<!ENTITY xxe 'root:inline'>\"> %p;]>"
    external_dtd = f'<!DOCTYPE xml SYSTEM "{canary_url}/external.dtd">'
    return {
        "xxe /etc/passwd": _msg("学习 &xxe;", doctype=xxe_passwd, raw=True),
        "xxe canary file": _msg("学习 &xxe;", doctype=xxe_file, raw=True),
        "xxe over http": _msg("学习 &xxe;", doctype=xxe_http, raw=True),
        "billion laughs": _msg("学习 &lol9;", doctype=LOLS, raw=True),
        "parameter entity (external)": _msg("学习 &xxe;", doctype=param, raw=True),
        "parameter entity (inline)": _msg("学习 &xxe;", doctype=param_inline, raw=True),
        "external dtd": _msg("学习 &ext;", doctype=external_dtd, raw=True),
        "external dtd, no reference": _msg("学习", doctype=external_dtd),
        f"deep nesting, {depth:,} unclosed": b"<xml>" + b"<a>" * depth,
        "deep nesting in Content, unclosed": _msg("<a>" * 9000, raw=True)[:-30],
        "]]> in raw content": _msg("a]]>b", raw=True),
        "]]> inside CDATA": b"<xml><Content><![CDATA[a]]>b]]></Content></xml>",
        "NUL byte": _msg("学习 a\x00b", raw=True),
        "NUL char reference": _msg("学习 a&#0;b", raw=True),
        "non-UTF-8 bytes": _msg("学习 x").replace(b" x", b" \xff\xfe\xc3\x28"),
        "GBK declared": GBK_DOC.encode("gbk"),
        "UTF-16": "<xml><Content>学习</Content></xml>".encode("utf-16"),
        "empty body": b"",
        "whitespace": b"   \n",
        "<xml/>": b"<xml/>",
        "<xml></xml>": b"<xml></xml>",
        "not xml": b"hello",
        "json": b'{"xml": {"MsgType": "text"}}',
        "two roots": b"<xml></xml><xml></xml>",
        "processing instruction": b'<?xml-stylesheet href="http://127.0.0.1:1/x"?><xml/>',
        "wrong root": _msg("学习 x").replace(b"<xml>", b"<root>").replace(b"</xml>", b"</root>"),
        "MsgType element": _msg("x").replace(b"<![CDATA[text]]>", b"<a>text</a>"),
        "MsgType attribute": _msg("x").replace(b"<MsgType>", b'<MsgType a="1">'),
        "Content element": _msg("<b>学习</b>", raw=True),
        "FromUserName element": _msg("学习").replace(b"<![CDATA[o-hostile]]>", b"<a/>"),
        "FromUserName too long": _msg("学习", openid="o" * 65),
        "FromUserName empty": _msg("学习", openid=""),
        "CreateTime huge": _msg("学习").replace(b"<CreateTime>", b"<CreateTime>" + b"9" * 30),
        "CreateTime text": _msg("学习").replace(b"<CreateTime>", b"<CreateTime>x"),
        "MsgId element": _msg("学习").replace(b"<MsgId>", b"<MsgId><a>1</a>"),
        "MsgId too long": _msg("学习").replace(b"<MsgId>", b"<MsgId>" + b"9" * 80),
        "repeated MsgType": _msg("x").replace(b"</xml>", b"<MsgType>text</MsgType></xml>"),
        "namespaced": b'<x:xml xmlns:x="urn:x"><x:MsgType>text</x:MsgType></x:xml>',
    }


OUTER_ONLY = {
    "Encrypt as a nested element": b"<xml><Encrypt><a>QUJD</a></Encrypt></xml>",
    "Encrypt with an attribute": b'<xml><Encrypt a="1">QUJD</Encrypt></xml>',
    "two Encrypt elements": b"<xml><Encrypt>QUJD</Encrypt><Encrypt>QUJD</Encrypt></xml>",
    "empty Encrypt": b"<xml><Encrypt></Encrypt></xml>",
    "no Encrypt": b"<xml><ToUserName>gh</ToUserName></xml>",
}


def _check_all(
    server: Server,
    cases: dict[str, tuple[dict[str, str], bytes]],
    tries: int = 3,
    bound: float = HANG_BOUND,
) -> None:
    """Every case is refused (or safely answered) on every try, and the fastest of `tries`
    answers comes within `bound` (a hang guard, not a speed target)."""
    problems = []
    for name, (params, body) in cases.items():
        before = len(_Canary.hits), len(_READS)
        fastest = math.inf
        for _ in range(tries):
            r = server.post(params, body)
            fastest = min(fastest, r.elapsed)
            try:
                reply_is_safe(server, r, ("root:", "CANARY"))
            except (AssertionError, ReplyError) as exc:
                problems.append(f"{name}: {exc}")
                break
        if fastest > bound:
            problems.append(f"{name}: answered in {fastest * 1000:.0f} ms at best")
        if (len(_Canary.hits), len(_READS)) != before:
            problems.append(
                f"{name}: fetched {_Canary.hits[before[0] :]} read {_READS[before[1] :]}"
            )
    assert problems == []


def test_hostile_bodies_are_refused_quickly(
    server: Server, canary_url: str, canary_file: Path
) -> None:
    """Plain mode: the parser sees these bodies (the signature does not cover the body).
    Safe mode: the outer envelope parser sees them."""
    payloads = hostile_payloads(canary_url, canary_file)
    if server.mode == "safe":
        payloads.update(OUTER_ONLY)
        cases = {name: server.outer(body) for name, body in payloads.items()}
    else:
        cases = {name: server.signed(body) for name, body in payloads.items()}
    _check_all(server, cases)
    with server.app.app_context(), db.connection_context():
        assert not StudyCheckin.select().where(StudyCheckin.reflection.contains("root")).exists()


def test_hostile_xml_inside_a_valid_envelope_resolves_nothing(
    db_url: str, canary_url: str, canary_file: Path
) -> None:
    """Safe mode: the hostile XML is encrypted and signed correctly, so it reaches the inner
    parser; a bound member sends it, so a resolved entity would land in a check-in."""
    with serve(db_url, wechat={"mode": "safe"}) as server:
        with server.app.app_context(), db.connection_context():
            f.bound(f.member("李四"), "o-hostile")
        # 14,000 unclosed levels: sealed (base64) they still fit under the 64 KB cap.
        payloads = hostile_payloads(canary_url, canary_file, depth=14_000)
        cases = {name: server.signed(body) for name, body in payloads.items()}
        assert all(len(body) <= CAP for _, body in cases.values())
        _check_all(server, cases)
        with server.app.app_context(), db.connection_context():
            rows = [r.reflection for r in StudyCheckin.select()]
        assert not any("root" in r or "lol" in r or "CANARY" in r for r in rows), rows


def test_bad_ciphertexts_are_403(db_url: str) -> None:
    with serve(db_url, wechat={"mode": "safe"}) as server:
        d = server.driver
        xml = d.text_xml("o-cipher", "帮助")
        other_key = base64.b64encode(b"k" * 32).decode()[:43]
        good = to_text(PrpCrypto(d.crypto.key).encrypt(xml, d.app_id))
        cases = {
            "invalid base64": envelope(d, "!!!not*base64!!!"),
            "base64, length not a block multiple": envelope(
                d, base64.b64encode(b"x" * 17).decode()
            ),
            "valid-signature garbage ciphertext": envelope(
                d, base64.b64encode(secrets.token_bytes(96)).decode()
            ),
            "one block of zeros": envelope(d, base64.b64encode(bytes(32)).decode()),
            "truncated ciphertext": envelope(d, good[: len(good) // 2]),
            "ciphertext blocks swapped": envelope(
                d,
                base64.b64encode(
                    (lambda raw: raw[32:64] + raw[:32] + raw[64:])(base64.b64decode(good))
                ).decode(),
            ),
            "wrong AES key": seal(d, xml, crypto=WeChatCrypto(d.token, other_key, d.app_id)),
            "wrong appid inside": seal(d, xml, app_id="wx0000000000000000"),
            "empty appid inside": seal(d, xml, app_id=""),
            "non-UTF-8 plaintext": seal(d, b"\xff\xfe<xml/>"),
            "empty plaintext": seal(d, b""),
            "plaintext not XML": seal(d, "hello"),
            "plaintext missing fields": seal(d, "<xml><MsgType>text</MsgType></xml>"),
        }
        results = {}
        for name, (params, body) in cases.items():
            r = server.post(params, body)
            results[name] = r.status
            assert r.elapsed < HANG_BOUND, (name, r.elapsed)
        crypto_failures = [
            "invalid base64", "base64, length not a block multiple",
            "valid-signature garbage ciphertext", "one block of zeros", "truncated ciphertext",
            "ciphertext blocks swapped", "wrong AES key", "wrong appid inside",
            "empty appid inside", "non-UTF-8 plaintext",
        ]  # fmt: skip
        assert {n: results[n] for n in crypto_failures} == {n: 403 for n in crypto_failures}
        assert all(results[n] in (400, 403) for n in results), results
        assert server.count(InboundMessage) == 0


def test_20000_well_formed_nesting_levels_are_refused_safely(roomy_server: Server) -> None:
    """20,000 well-formed levels need 140 KB: this server's cap is raised to 1 MB. Refused
    safely, before any XML tree is built from them."""
    _deep_cases_refused(roomy_server, 20_000)


@pytest.mark.parametrize("mode", ["safe", "plain"])
def test_the_nesting_depth_is_limited_not_only_the_body_size(db_url: str, mode: str) -> None:
    """With a larger cap configured, 100,000 levels (700 KB) must still be refused before a
    tree is built: WeChat's XML is at most a few levels deep, so the depth is refused while
    streaming instead of after building a 100,000-level tree."""
    with serve(db_url, wechat={"mode": mode}, app={"max_body_bytes": 2 << 20}) as server:
        _deep_cases_refused(server, 100_000, tries=1, only=("document", "envelope"))


def _deep_cases_refused(
    roomy_server: Server,
    depth: int,
    tries: int = 3,
    only: tuple[str, ...] = (),
) -> None:
    deep = "<a>" * depth + "x" + "</a>" * depth
    cases = {
        f"{depth:,} levels as the document": roomy_server.signed(f"<xml>{deep}</xml>".encode()),
        f"{depth:,} levels in Content": roomy_server.signed(_msg(deep, raw=True)),
        f"{depth:,} levels in FromUserName": roomy_server.signed(
            _msg("学习").replace(b"<![CDATA[o-hostile]]>", deep.encode())
        ),
    }
    if roomy_server.mode == "safe":
        cases[f"{depth:,} levels as the envelope"] = roomy_server.outer(
            f"<xml>{deep}</xml>".encode()
        )
        cases[f"{depth:,} levels in Encrypt"] = roomy_server.outer(
            f"<xml><Encrypt>{deep}</Encrypt></xml>".encode()
        )
    if only:
        cases = {k: v for k, v in cases.items() if k.endswith(only)}
    parsed: list[str] = []  # every document handed to xmltodict (ours and wechatpy's)
    real_parse = xmltodict.parse

    def spy(xml: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(xml.decode("utf-8", "replace") if isinstance(xml, bytes) else str(xml))
        return real_parse(xml, *args, **kwargs)

    with mock.patch.object(xmltodict, "parse", spy):
        _check_all(roomy_server, cases, tries=tries)
    too_deep = "<a>" * 200  # more levels than any WeChat message has
    assert not [x[:80] for x in parsed if too_deep in x], "a deep document reached a parser"


# ---- echo safety --------------------------------------------------------------------------------


def test_member_text_with_cdata_end_and_script_round_trips(server: Server) -> None:
    name = "张<script>]]>三\x07"
    with server.app.app_context(), db.connection_context():
        br = f.branch("第]]>一<b>支部")
        m = f.member(name, br)
        openid = f.bound(m, "o-echo")
        f.topic(local_now(ZoneInfo("Asia/Shanghai")).date(), "学习]]><script>alert(1)</script>")
    reflection = "心得]]><script>alert('x')</script>&amp;<![CDATA[x]]>"
    d = server.driver.send_text(openid, "学习 " + reflection)  # read_reply checks the XML
    assert d.status == 200 and d.reply and "学习打卡成功" in d.reply, d
    assert "]]>" not in d.reply
    d = server.driver.send_text(openid, "我的")
    assert d.status == 200 and d.reply, d
    assert "张<script>]] >三" in d.reply and "第]] >一<b>支部" in d.reply, d.reply
    assert "\x07" not in d.reply
    d = server.driver.send_text(openid, "帮助")
    assert d.reply and d.reply.startswith("张<script>]] >三同志"), d.reply
    with server.app.app_context(), db.connection_context():
        assert [c.reflection for c in StudyCheckin.select()] == [reflection]


# ---- unhandled messages and events --------------------------------------------------------------


def _event(openid: str, event: str, extra: str = "") -> str:
    return (
        f"<xml><ToUserName>{cdata('gh_zhibu_demo')}</ToUserName>"
        f"<FromUserName>{cdata(openid)}</FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType>{cdata('event')}</MsgType><Event>{cdata(event)}</Event>{extra}</xml>"
    )


def _message(openid: str, kind: str, extra: str) -> str:
    return (
        f"<xml><ToUserName>{cdata('gh_zhibu_demo')}</ToUserName>"
        f"<FromUserName>{cdata(openid)}</FromUserName><CreateTime>{int(time.time())}</CreateTime>"
        f"<MsgType>{cdata(kind)}</MsgType>{extra}<MsgId>{secrets.randbelow(10**18)}</MsgId></xml>"
    )


UNHANDLED: dict[str, Callable[[str], str]] = {
    "TEMPLATESENDJOBFINISH": lambda o: _event(
        o,
        "TEMPLATESENDJOBFINISH",
        f"<MsgID>{secrets.randbelow(10**12)}</MsgID><Status><![CDATA[success]]></Status>",
    ),
    "TEMPLATESENDJOBFINISH failed": lambda o: _event(
        o, "TEMPLATESENDJOBFINISH", "<MsgID>1</MsgID><Status>failed:user block</Status>"
    ),
    "unknown event": lambda o: _event(o, "weapp_audit_success", "<SuccTime>1</SuccTime>"),
    "subscribe_msg_popup_event": lambda o: _event(
        o,
        "subscribe_msg_popup_event",
        "<SubscribeMsgPopupEvent><List><TemplateId>t</TemplateId>"
        "<SubscribeStatusString>accept</SubscribeStatusString></List></SubscribeMsgPopupEvent>",
    ),
    "unsubscribe": lambda o: _event(o, "unsubscribe"),
    "VIEW": lambda o: _event(o, "VIEW", "<EventKey>https://example.com/</EventKey>"),
    "CLICK unknown key": lambda o: _event(o, "CLICK", "<EventKey>NO_SUCH_KEY</EventKey>"),
    "LOCATION event": lambda o: _event(
        o,
        "LOCATION",
        "<Latitude>23.1</Latitude><Longitude>113.3</Longitude><Precision>1</Precision>",
    ),
    "SCAN unknown scene": lambda o: _event(
        o, "SCAN", "<EventKey>nosuchscene</EventKey><Ticket>t</Ticket>"
    ),
    "subscribe with empty qrscene_": lambda o: _event(
        o, "subscribe", "<EventKey>qrscene_</EventKey>"
    ),
    "image": lambda o: _message(
        o, "image", "<PicUrl>http://example.com/a.jpg</PicUrl><MediaId>m</MediaId>"
    ),
    "voice": lambda o: _message(o, "voice", "<MediaId>m</MediaId><Format>amr</Format>"),
    "video": lambda o: _message(o, "video", "<MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId>"),
    "location": lambda o: _message(
        o,
        "location",
        "<Location_X>23.1</Location_X><Location_Y>113.3</Location_Y>"
        "<Scale>20</Scale><Label>x</Label>",
    ),
    "link": lambda o: _message(
        o, "link", "<Title>t</Title><Description>d</Description><Url>http://x</Url>"
    ),
    "unknown message type": lambda o: _message(o, "hologram", "<Data>x</Data>"),
}


@pytest.mark.parametrize("bound", [False, True], ids=["stranger", "member"])
def test_unhandled_messages_and_events_get_200(server: Server, bound: bool) -> None:
    openid = "o-unhandled"
    if bound:
        with server.app.app_context(), db.connection_context():
            f.bound(f.member("王五"), openid)
    problems = []
    for n, (name, build) in enumerate(UNHANDLED.items()):
        sender = openid if bound else f"{openid}-{n}"
        xml = build(sender)  # a CreateTime of its own: same-second events are W2's business
        xml = xml.replace(
            f"<CreateTime>{int(time.time())}", f"<CreateTime>{int(time.time()) - 10 * n}"
        )
        d = server.driver.deliver(xml, redeliveries=0)  # read_reply checks the reply
        if d.status != 200:
            problems.append((name, d.status, d.body[:100]))
    assert problems == []
    assert server.count(InboundMessage) == len(UNHANDLED)


# ---- W6: fuzzing --------------------------------------------------------------------------------

Poster = Callable[[dict[str, str], bytes], tuple[int, str]]

xml_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n"),
    max_size=80,
)
any_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
COMMANDS = ["学习", "打卡", "绑定", "我的", "帮助", "?", "学习：", "#学习", "", "]]>"]
OPENIDS = ["o-fuzz-member", "o-fuzz-stranger", "", "x" * 64, "x" * 65]


@st.composite
def message_xml(draw: st.DrawFn) -> bytes:
    """A WeChat-like message: known and odd field values, fields dropped or nested."""
    fields: dict[str, str] = {}
    # Mostly plausible values (so the handlers run), sometimes odd ones.
    fields["ToUserName"] = draw(st.sampled_from(["gh_zhibu_demo", ""]) | xml_text)
    fields["FromUserName"] = draw(
        st.sampled_from(OPENIDS[:2]) | st.sampled_from(OPENIDS) | xml_text
    )
    fields["CreateTime"] = draw(
        st.just("now")
        | st.just("now")
        | st.integers(-(2**40), 2**70).map(str)
        | st.sampled_from(["", "0", " 1 ", "1.5", "-0"])
        | xml_text
    ).replace("now", str(int(time.time())))
    kind = draw(
        st.sampled_from(["text", "event", "image", "voice", "video", "shortvideo", "location",
                         "link", "miniprogrampage", "device_event", "TEXT", "Event", ""])
        | xml_text
    )  # fmt: skip
    fields["MsgType"] = kind
    if draw(st.booleans()):
        fields["Event"] = draw(
            st.sampled_from(["subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW", "LOCATION",
                             "TEMPLATESENDJOBFINISH", "scancode_push", "pic_sysphoto", ""])
            | xml_text
        )  # fmt: skip
    if draw(st.booleans()):
        fields["EventKey"] = draw(
            st.sampled_from(["qrscene_", "qrscene_x", "scanbarcode|x", "m1", ""])
            | xml_text.map(lambda s: "qrscene_" + s)
            | xml_text
        )
    if draw(st.integers(0, 4)) > 0:
        fields["Content"] = (
            draw(st.sampled_from(COMMANDS))
            + draw(st.sampled_from(["", " ", "：", "\n"]))
            + draw(xml_text | st.text("]>&<学习 ", max_size=700))
        )
    if draw(st.booleans()):
        fields["MsgId"] = draw(st.integers(0, 2**70).map(str) | xml_text)
    if draw(st.integers(0, 4)) == 0:
        del fields[draw(st.sampled_from(list(fields)))]
    parts = []
    for name, value in fields.items():
        how = draw(st.sampled_from(["cdata"] * 8 + ["escaped"] * 4 + ["nested", "attr"]))
        if how == "cdata":
            parts.append(f"<{name}>{cdata(value)}</{name}>")
        elif how == "escaped":
            escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            parts.append(f"<{name}>{escaped}</{name}>")
        elif how == "nested":
            parts.append(f"<{name}><v>{cdata(value)}</v></{name}>")
        else:
            parts.append(f'<{name} a="1">{cdata(value)}</{name}>')
    if draw(st.booleans()):
        parts = draw(st.permutations(parts))
    return ("<xml>" + "".join(parts) + "</xml>").encode("utf-8")


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """`base` with a few bytes flipped, inserted, deleted, or cut off."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(
                st.binary(min_size=1, max_size=8) | st.sampled_from([b"<", b"]]>", b"&"])
            )
        elif op == "delete":
            del data[i]
        else:
            del data[i:]
    return bytes(data)


@dataclass
class FuzzTarget:
    mode: str
    driver: CallbackDriver
    post: Poster
    get: Callable[[dict[str, str]], tuple[int, str]]
    checked: list[int]


def _fuzz_body(target: FuzzTarget, examples: int) -> None:
    d = target.driver
    base_params, base_body = d.wrap(d.text_xml("o-fuzz-member", "学习 fuzz"))
    bodies = (
        st.binary(max_size=600)
        | any_text.map(lambda s: s.encode("utf-8"))
        | message_xml()
        | mutated(base_body)
        | message_xml().flatmap(lambda b: mutated(b))
    )

    @hsettings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(body=bodies)
    def run(body: bytes) -> None:
        # A valid signature over a fresh timestamp: in plain mode the body reaches the parser.
        params = dict(base_params) if target.mode == "safe" else plain_params(d.token)
        _expect_safe(target, params, body)

    run()


def _fuzz_encrypt(target: FuzzTarget, examples: int) -> None:
    d = target.driver
    good = to_text(PrpCrypto(d.crypto.key).encrypt(d.text_xml("o-fuzz-member", "帮助"), d.app_id))
    encrypts = (
        st.text(B64, max_size=200)
        | st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())
        | st.integers(1, 12).flatmap(
            lambda n: st.binary(min_size=16 * n, max_size=16 * n).map(
                lambda b: base64.b64encode(b).decode()
            )
        )
        | mutated(good.encode()).map(lambda b: b.decode("latin-1"))
        | xml_text
        | any_text
    )

    @hsettings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(encrypt=encrypts)
    def run(encrypt: str) -> None:
        # The signature covers exactly this Encrypt, so the request reaches decrypt_message.
        params, body = envelope(d, encrypt)
        _expect_safe(target, params, body)

    run()


def _fuzz_query(target: FuzzTarget, examples: int) -> None:
    """Odd timestamps, nonces and signatures, each signed correctly unless the signature
    itself is the fuzzed part: the window and signature checks must refuse, not crash."""
    d = target.driver
    now = str(int(time.time()))
    timestamps = (
        st.just(now)
        | st.integers(-(10**20), 10**20).map(str)
        | st.text(st.characters(categories=["Nd", "No"]), max_size=12)
        | st.text("0123456789", min_size=300, max_size=400)
        | any_text
    )
    nonces = st.just("1234567890") | any_text | st.text(string.digits, max_size=100)
    params_st = st.fixed_dictionaries(
        {"timestamp": timestamps, "nonce": nonces, "bad_sig": st.none() | any_text}
    )

    @hsettings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(q=params_st, get=st.booleans())
    def run(q: dict[str, Any], get: bool) -> None:
        xml = d.text_xml("o-fuzz-member", "帮助")
        _, body = d.wrap(xml)
        ts, n = q["timestamp"], q["nonce"]
        params = plain_params(d.token, ts, n)
        if target.mode == "safe":
            encrypt = xmltodict.parse(body)["xml"]["Encrypt"]
            params["encrypt_type"] = "aes"
            params["msg_signature"] = sign(d.token, ts, n, encrypt)
        if q["bad_sig"] is not None:
            params["signature"] = params["msg_signature"] = q["bad_sig"]
        if get:
            status, text = target.get({**params, "echostr": "e"})
            assert status in (200, 403), (status, q)
            target.checked.append(status)
        else:
            _expect_safe(target, params, body if target.mode == "safe" else xml.encode())

    run()


def _fuzz_sealed(target: FuzzTarget, examples: int) -> None:
    """Valid signature and encryption around fuzzed messages: the handlers see them."""
    d = target.driver
    # A bound member's (or a stranger's) well-formed text with fuzzed content: every handler.
    member_text = st.builds(
        lambda who, cmd, rest: d.text_xml(who, cmd + rest).encode("utf-8"),
        st.sampled_from(OPENIDS[:2]),
        st.sampled_from(COMMANDS),
        xml_text | st.text("]>&<学习 ：\n", max_size=700),
    )
    plaintexts = st.one_of(
        member_text,
        message_xml(), message_xml(),
        message_xml().flatmap(lambda b: mutated(b)),
        st.binary(max_size=300),
    )  # fmt: skip

    # Derandomized: the share of answers that reached a handler is asserted below, and a
    # random draw fell under it now and then.
    @hsettings(
        max_examples=examples, deadline=None, database=None, derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )  # fmt: skip
    @given(plaintext=plaintexts)
    def run(plaintext: bytes) -> None:
        if target.mode == "safe":
            params, body = seal(d, plaintext)
        else:
            params, body = plain_params(d.token), plaintext
        _expect_safe(target, params, body)

    run()


def _expect_safe(target: FuzzTarget, params: dict[str, str], body: bytes) -> None:
    status, text = target.post(params, body)
    assert status < 500, (status, text[:300], body[:300])
    assert status in (200, 400, 403, 413), (status, body[:300])
    if status == 200:
        target.driver.read_reply(text)  # success, or XML that parses (and decrypts)
    target.checked.append(status)


@pytest.fixture(params=["safe", "plain"])
def fuzz_app(request: pytest.FixtureRequest, db_url: str) -> Iterator[Any]:
    app = make_app(db_url, wechat={"mode": request.param})
    with app.app_context(), db.connection_context():
        f.bound(f.member("赵六"), "o-fuzz-member")
    yield app
    if not db.is_closed():
        db.close()


def _in_process(app: Any) -> FuzzTarget:
    client = app.test_client()

    def post(params: dict[str, str], body: bytes) -> tuple[int, str]:
        r = client.post("/wechat", query_string=params, data=body, content_type="text/xml")
        return r.status_code, r.get_data(as_text=True)

    def get(params: dict[str, str]) -> tuple[int, str]:
        r = client.get("/wechat", query_string=params)
        return r.status_code, r.get_data(as_text=True)

    driver = make_driver(app.config["ZHIBU"], "http://in-process")
    return FuzzTarget(app.config["ZHIBU"].wechat.mode, driver, post, get, [])


def _over_http(app: Any) -> Iterator[FuzzTarget]:
    live = start_live(app)
    session = requests.Session()

    def post(params: dict[str, str], body: bytes) -> tuple[int, str]:
        r = session.post(
            live.url + "/wechat", params=params, data=body, timeout=10,
            headers={"Content-Type": "text/xml"},
        )  # fmt: skip
        return r.status_code, r.text

    def get(params: dict[str, str]) -> tuple[int, str]:
        r = session.get(live.url + "/wechat", params=params, timeout=10)
        return r.status_code, r.text

    try:
        driver = make_driver(app.config["ZHIBU"], live.url)
        yield FuzzTarget(app.config["ZHIBU"].wechat.mode, driver, post, get, [])
    finally:
        session.close()
        live.stop()


FUZZERS = {
    "body": _fuzz_body,
    "encrypt": _fuzz_encrypt,
    "sealed": _fuzz_sealed,
    "query": _fuzz_query,
}


@pytest.mark.parametrize("what", list(FUZZERS))
def test_fuzzed_callbacks_in_process_never_get_a_5xx(fuzz_app: Any, what: str) -> None:
    target = _in_process(fuzz_app)
    # In plain mode an Encrypt envelope is just a hostile body: it must be refused too.
    FUZZERS[what](target, FUZZ_EXAMPLES)
    assert len(target.checked) >= FUZZ_EXAMPLES // 2
    if what == "sealed":  # the fuzz reached the handlers, not only the refusals
        assert target.checked.count(200) >= len(target.checked) // 10, sorted(target.checked)


@pytest.mark.parametrize("what", list(FUZZERS))
def test_fuzzed_callbacks_over_http_never_get_a_5xx_either(fuzz_app: Any, what: str) -> None:
    for target in _over_http(fuzz_app):
        FUZZERS[what](target, HTTP_FUZZ_EXAMPLES)
        assert len(target.checked) >= HTTP_FUZZ_EXAMPLES // 2
