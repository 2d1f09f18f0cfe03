"""A live app with the fake WeChat and a cast of people, for /api/v1 tests.

Its fixtures (``fake``, ``make_env``, ``env``) are in tests/conftest.py.

The cast (every key but ``new`` and ``m2`` has a mini-program binding with openid
``mini-<key>``, so ``env.token(key)`` logs them in):

- committee 测试党委: branch A 第一党支部 and branch B 第二党支部;
  - A: ``sec`` (secretary, organizer), ``m1``, ``m2`` (bound through the official account,
    openid ``oa-m2``), ``new`` (not bound), ``admin`` (committee_admin);
  - B: ``secb`` (secretary), ``mb``;
- committee 其他党委: branch X 外单位党支部 with ``secx`` (secretary) and ``mx``.
An unbound account (a stranger) logs in with ``env.login_openid("stranger")``. Branch A's group
channel is a WeCom robot whose key, like the app's secrets, no API answer may contain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.fake import FakeWeChat
from models.base import db
from models.org import Branch, Member
from tests import factories as f
from tests.support.api_contract import SECRETS, Api
from tests.support.apps import LiveServer, make_app

CAST: dict[str, tuple[str, str, str]] = {
    # key: (name, branch key, roles)
    "sec": ("书记甲", "A", "secretary,organizer"),
    "m1": ("党员丙", "A", ""),
    "m2": ("党员丁", "A", ""),
    "new": ("新党员", "A", ""),
    "admin": ("党委管理员", "A", "committee_admin"),
    "secb": ("书记乙", "B", "secretary"),
    "mb": ("党员戊", "B", ""),
    "secx": ("书记丙", "X", "secretary"),
    "mx": ("党员己", "X", ""),
}


@dataclass
class Env:
    app: Any
    server: LiveServer
    api: Api
    fake: FakeWeChat
    people: dict[str, Member]
    branches: dict[str, Branch]

    @property
    def settings(self) -> dict[str, dict[str, Any]]:
        return self.app.config["ZHIBU"]

    def login_openid(self, openid: str) -> dict[str, Any]:
        r = self.api.post("/api/v1/login", json={"code": self.fake.issue_js_code(openid)})
        assert r.status_code == 200, r.text
        return r.json()

    def login(self, openid: str) -> dict[str, Any]:
        return self.login_openid(openid)

    def token(self, who: str) -> str:
        """A session token for a cast key (``"sec"``) or a raw openid (``"mini-sec"``)."""
        openid = f"mini-{who}" if who in self.people else who
        return self.login_openid(openid)["token"]

    def ctx(self) -> Any:
        """App context with a database connection, for reading and writing rows in a test."""
        return _Ctx(self.app)


class _Ctx:
    def __init__(self, app: Any) -> None:
        self.app_ctx = app.app_context()

    def __enter__(self) -> None:
        self.app_ctx.__enter__()
        db.connect(reuse_if_open=True)

    def __exit__(self, *exc: Any) -> None:
        if not db.is_closed():
            db.close()
        self.app_ctx.__exit__(*exc)


def start_env(db_url: str, fake: FakeWeChat, **overrides: Any) -> Env:
    """Start a live app on db_url talking to ``fake``, with the cast and branch A's robot."""
    app = make_app(db_url, wechat={"api_base_url": fake.base_url}, **overrides)
    server = LiveServer(app).start()
    try:
        with app.app_context(), db.connection_context():
            other = f.committee("其他党委")
            branches = {
                "A": f.branch("第一党支部"),
                "B": f.branch("第二党支部"),
                "X": f.branch("外单位党支部", other),
            }
            people = {
                key: f.member(name, branches[where], roles=roles)
                for key, (name, where, roles) in CAST.items()
            }
            robot_key = "robot-key-of-branch-a-" + "7f3c9e1d"
            f.group_channel(branches["A"], "wecom_robot", robot_key)
            app_settings = app.config["ZHIBU"]
            SECRETS.update(
                {
                    robot_key,
                    app_settings.wechat.app_secret,
                    app_settings.wechat.encoding_aes_key,
                    app_settings.app.secret_key,
                }
            )
            for key, person in people.items():
                if key == "m2":
                    f.bound(person, "oa-m2", app="oa")
                elif key != "new":
                    f.bound(person, f"mini-{key}", app="mini")
    except BaseException:
        server.stop()
        raise
    return Env(app, server, Api(server.url), fake, people, branches)
