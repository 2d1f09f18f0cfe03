"""Logging in to the web console in tests: one-time links through a Flask test client."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import utcnow
from handlers.console.access import issue_login_link
from models.base import db

SH = ZoneInfo("Asia/Shanghai")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of a console page (every page's forms carry it)."""
    found = TOKEN.search(html)
    assert found, "no csrf_token on the page"
    return found.group(1)


def link_for(app: Any, member: Any) -> str:
    """A fresh one-time login link (its path) for a member with a console role."""
    with app.app_context(), db.connection_context():
        settings = app.config["ZHIBU"]
        token = issue_login_link(member, settings=settings, now=utcnow()).token
    return f"/console/login/link/{token}"


def login(app: Any, member: Any) -> Any:
    """A test client logged in as the member through a one-time link."""
    client = app.test_client()
    path = link_for(app, member)
    page = client.get(path)
    assert page.status_code == 200 and "用这个一次性链接登录" in page.text
    done = client.post(path, data={"csrf_token": csrf_token(page.text)})
    assert done.status_code == 302, done.text
    return client


def post(client: Any, path: str, data: dict[str, Any] | None = None, page: str | None = None):
    """POST a console form with the CSRF token taken from ``page`` (default: GET ``path``)."""
    html = client.get(page or path).text
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(html)})
