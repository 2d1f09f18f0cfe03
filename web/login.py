"""Logging in to the console: a one-time link from the bot, or a QR code scanned in WeChat."""

from __future__ import annotations

import logging
from typing import Any

import segno
from flask import Response, redirect, request, session, url_for

from bot.clients import WeChatApiError, create_scene_qr
from core.clock import utcnow
from core.config import DEMO_APPID
from handlers.console.access import (
    StartedSession,
    end_session,
    finish_qr_login,
    redeem_login_link,
    start_qr_login,
)
from handlers.demo import SECRETARY_OPENID
from handlers.errors import DomainError
from web.common import SESSION_KEY, bp, page, settings

log = logging.getLogger(__name__)

QR_KEY = "console_qr"  # the browser's key to its pending QR login, in its cookie


def _safe_next(target: str | None) -> str:
    """Where to go after logging in: a console path only (never another site)."""
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.home")


def _enter(started: StartedSession) -> None:
    session.clear()  # a new session id for the cookie: no fixation
    session[SESSION_KEY] = started.sid
    session.permanent = False


@bp.get("/login")
def login() -> Any:
    """The login page: a QR code to scan in the Official Account, and how to ask for a link."""
    config = settings()
    pending = start_qr_login(settings=config, now=utcnow())
    session[QR_KEY] = pending.browser_key
    qr_svg, problem = "", ""
    try:
        code = create_scene_qr(config, pending.scene, config.console.login_minutes * 60)
        content = code.content_url or code.url
        qr_svg = segno.make(content, error="m").svg_inline(scale=5, dark="#222")
    except (WeChatApiError, OSError, ValueError) as exc:
        log.warning("console login QR not created: %s", exc)
        problem = "暂时无法生成登录二维码，请在公众号发送“控制台”获取登录链接。"
    return page(
        "login.html",
        qr_svg=qr_svg,
        problem=problem,
        scene=pending.scene,
        demo=config.wechat.app_id == DEMO_APPID,
        demo_openid=SECRETARY_OPENID,
        minutes=config.console.login_minutes,
        next=_safe_next(request.args.get("next")),
    )


@bp.get("/login/status")
def login_status() -> Any:
    """Polled by the login page (htmx): in once the code was scanned and approved."""
    key = session.get(QR_KEY)
    if not key:
        return page("login_status.html", message="请刷新页面获取新的二维码。")
    try:
        started = finish_qr_login(key, settings=settings(), now=utcnow())
    except DomainError as exc:
        return page("login_status.html", message=exc.message)
    if started is None:
        return page("login_status.html", waiting=True)
    _enter(started)
    answer = Response(status=204)
    answer.headers["HX-Redirect"] = _safe_next(request.args.get("next"))
    return answer


@bp.route("/login/link/<token>", methods=["GET", "POST"])
def login_link(token: str) -> Any:
    """A one-time link from the bot: a button to press (so link previews do not use it up)."""
    if request.method == "GET":
        return page("login_link.html")
    try:
        started = redeem_login_link(token, settings=settings(), now=utcnow())
    except DomainError as exc:
        return page("error.html", 400, message=exc.message, login_again=True)
    _enter(started)
    return redirect(url_for("console.home"))


@bp.post("/logout")
def logout() -> Any:
    sid = session.get(SESSION_KEY)
    if sid:
        end_session(sid, now=utcnow())
    session.clear()
    return redirect(url_for("console.login"))
