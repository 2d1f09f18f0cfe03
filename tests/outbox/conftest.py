"""The outbox and channel tests' own ``fake`` and ``env`` (in place of tests/conftest.py's).

Here the fake WeChat answers to the outbox test credentials of tests/support/outbox.py, and
``env`` is an app wired to that fake, with an open connection.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.fake import FakeWeChat
from models.base import db
from tests.support.outbox import Env, fake_server, make_env


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    """A fake on real time."""
    with fake_server() as server:
        yield server


@pytest.fixture
def env(db_url: str, fake: FakeWeChat) -> Iterator[Env]:
    """An app on a fresh database wired to the fake, with an open connection."""
    e = make_env(db_url, fake)
    with e.app.app_context(), db.connection_context():
        yield e
    if not db.is_closed():
        db.close()
