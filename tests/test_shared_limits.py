"""Rate limits hold across app instances: two gunicorn servers (as if on two hosts) on one
database count the same allowance, because the counts live in the database (rate_event and
the failed binding attempts), not in a process.

Runs on the SQLite file, and on PostgreSQL when ZHIBU_TEST_DATABASE_URL names one: the set-up
of several hosts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.simulate import CallbackDriver
from models.base import db
from models.wechat import WechatBinding
from tests import factories as f
from tests.support.apps import make_app, make_driver
from tests.support.procs import Gunicorn

pytestmark = pytest.mark.process


@pytest.fixture
def two_hosts(db_url: str, tmp_path: Path) -> Iterator[tuple[Any, list[CallbackDriver]]]:
    application = make_app(db_url)
    servers = [Gunicorn(db_url, tmp_path / f"host{i}.log", workers=2) for i in (1, 2)]
    try:
        drivers = []
        for server in servers:
            server.start()
            drivers.append(make_driver(application.config["ZHIBU"], server.url))
        yield application, drivers
    finally:
        for server in servers:
            server.stop()
        if not db.is_closed():
            db.close()


def test_wrong_binding_codes_are_counted_across_both_hosts(two_hosts: Any) -> None:
    application, (host1, host2) = two_hosts
    settings = application.config["ZHIBU"]
    limit = settings.binding.max_failures_per_hour
    with application.app_context(), db.connection_context():
        code = f.code_for(f.member("赵六"), settings)
    # The guesses alternate between the hosts: each host alone sees only half the allowance.
    for i in range(limit):
        host = (host1, host2)[i % 2]
        reply = host.send_text("guesser", f"绑定 ABCDEFG{'HJKMNPQRSTUVWXYZ'[i]}").reply
        assert "不正确" in reply, reply
    # Spent on both hosts: even the right code is refused by either.
    for host in (host1, host2):
        assert "次数过多" in host.send_text("guesser", f"绑定 {code}").reply
    # Another account is not affected, on either host.
    assert host2.send_text("someone-else", f"绑定 {code}").reply.startswith("绑定成功")
    with application.app_context(), db.connection_context():
        bound = [b.openid for b in WechatBinding.select()]
    assert bound == ["someone-else"]
