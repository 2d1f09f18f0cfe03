"""The `demo` command: migrate, seed the demo data (handlers.demo), start the fake WeChat,
print what to try, then serve."""

from __future__ import annotations

import logging
import secrets
import shlex
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from cli.connection import connection
from core import wxpay
from core.clock import utcnow
from core.config import Settings
from handlers.binding import format_code
from handlers.demo import (
    DEMO_MINI_OPENID,
    DEMO_OPENID,
    SECRETARY_MINI_OPENID,
    SECRETARY_OPENID,
    demo_console_links,
    seed,
)
from handlers.schema import upgrade_schema

log = logging.getLogger(__name__)


def run_demo(app: Flask, *, serve: bool) -> None:
    """Migrate, seed, start the fake WeChat, print what to try, then serve."""
    settings = app.config["ZHIBU"]
    demo = settings.demo
    fake = _start_fake(demo.host, demo.fake_wechat_port, settings)
    overrides = _point_at_fake(settings, fake.base_url) if fake is not None else {}
    if fake is not None and not settings.pay.mchid:
        overrides.update(demo_pay(settings, fake, _instance_folder(settings) / "pay"))
    _open_metrics_to_loopback(settings)
    with connection():
        upgrade_schema()
        info = seed(settings)
        links = demo_console_links(settings, utcnow())
        if fake is not None:
            from scheduler.jobs import meeting_qr_codes

            meeting_qr_codes(settings)
    flask = "flask --app app"
    if not _in_venv_path():
        flask = ".venv/bin/" + flask
    sim = f"{flask} simulate"
    click.echo(
        f"\n== zhibu demo: {info['branches']} branches, {info['members']} members, "
        f"database {settings.database.url}\n"
        f"Callback: http://{demo.host}:{demo.port}/wechat "
        f"(mode: {settings.wechat.mode})"
        "\n\nIn another terminal, talk to the bot as a party member:\n"
        f"  {sim} --openid {DEMO_OPENID} 今日学习\n"
        f"  {sim} --openid {DEMO_OPENID} {shlex.quote('学习 今天读了党章第一章，很有收获')}\n"
        f"  {sim} --openid {DEMO_OPENID} 我的\n"
        f"  {sim} --openid {DEMO_OPENID} 帮助\n"
        f"  {sim} --openid {DEMO_OPENID} 清单   # the rectification items 陈静 owns\n"
        f"  {sim} --openid {DEMO_OPENID} {shlex.quote('完成 2 已更新学习资料并建立台账')}\n"
        f"  {sim} --openid {DEMO_OPENID} {shlex.quote('志愿 2小时 社区清扫')}"
        "   # volunteer service, for the secretary to confirm\n"
        "Bind a new account with a one-time code (issued for 刘洋 just now):\n"
        f"  {sim} --openid my-new-openid --event subscribe\n"
        f"  {sim} --openid my-new-openid {shlex.quote('绑定 ' + format_code(info['code']))}\n"
        "As the secretary (a theme day starts in 20 minutes):\n"
        f"  {sim} --openid {SECRETARY_OPENID} 开始签到\n"
        f"  {sim} --openid {DEMO_OPENID} '签到 CODE'   # the code 开始签到 answered\n"
        f"  {sim} --openid {SECRETARY_OPENID} '会议 情况'\n"
        f"  {sim} --openid {SECRETARY_OPENID} 本月\n"
        f"  {sim} --openid {SECRETARY_OPENID} 发展   # the branch's development pipeline\n"
        "Load a month of study topics for the committee, and show a branch's plan:\n"
        f"  {flask} study import examples/study_plan.xlsx\n"
        f"  {flask} study plan --month 2026-12 --branch 第一党支部\n"
        "The web console (one-time login links, valid 60 minutes; or scan the QR code on "
        f"http://{demo.host}:{demo.port}/console/login):\n"
        + "".join(
            f"  {label} {name}: http://{demo.host}:{demo.port}/console/login/link/{token}\n"
            for name, label, token in links
        )
        + "The mini-program API (/api/v1; wx.login is played by the fake WeChat):\n"
        f"  {sim}-login --openid {DEMO_MINI_OPENID}        # prints a token and curl examples\n"
        f"  {sim}-login --openid {SECRETARY_MINI_OPENID}\n"
        "Seeing it run: the health check, and the metrics Prometheus would scrape (loopback):\n"
        f"  curl http://{demo.host}:{demo.port}/healthz\n"
        f"  curl -s http://{demo.host}:{demo.port}/metrics | grep ^zhibu_\n"
    )
    if settings.pay.mchid:
        click.echo(
            "Pay dues with WeChat Pay (the fake plays the payer and sends the notification):\n"
            f"  {sim}-pay --openid {DEMO_MINI_OPENID}   # every month 陈静 owes\n"
        )
    if fake is not None:
        click.echo(
            f"Local fake WeChat API: {fake.base_url} — every message it accepts (group robot,"
            " template messages) is logged below as 'fake WeChat accepted'.\n"
        )
    if not serve:
        return
    scheduler = _start_scheduler(overrides)
    click.echo("Scheduler started in its own process (flask --app app jobs lists its jobs).\n")
    try:
        from werkzeug.serving import run_simple

        run_simple(demo.host, demo.port, app, threaded=True)
    finally:
        scheduler.terminate()
        scheduler.wait(10)


def _open_metrics_to_loopback(settings: Settings) -> None:
    """Serve /metrics to this machine in the demo, unless the settings say otherwise."""
    metrics = settings.metrics
    if not metrics.enabled:
        metrics.allowed_addresses = ["127.0.0.1", "::1"]
        metrics.enabled = True


def _point_at_fake(settings: Settings, base_url: str) -> dict[str, str]:
    """Send the demo's outbound calls to the local fake; return the same as env overrides."""
    changes = {
        ("wechat", "api_base_url"): base_url,
        ("channels", "wecom_api_base_url"): base_url,
        ("channels", "template_id"): settings.channels.template_id or "demo-template",
        ("channels", "personal_fallback"): "console",
    }
    env = {}
    for (section, key), value in changes.items():
        setattr(getattr(settings, section), key, value)
        env[f"ZHIBU_{section.upper()}__{key.upper()}"] = value
    return env


DEMO_MCHID = "1900000109"


def demo_pay(settings: Settings, fake: Any, folder: Path) -> dict[str, str]:
    """Turn WeChat Pay on against the fake: a throwaway merchant key made now, written to
    ``folder`` (the demo's instance folder) with the fake's platform key, registered with the
    fake; [pay] set here and returned as env overrides for the scheduler's process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    folder.mkdir(parents=True, exist_ok=True)
    key_path, platform_path = folder / "apiclient_key.pem", folder / "pub_key.pem"
    key_path.write_bytes(wxpay.private_pem(key))
    key_path.chmod(0o600)
    platform_path.write_bytes(fake.platform_public_pem())
    serial, apiv3_key = secrets.token_hex(20).upper(), secrets.token_hex(16)
    appid = settings.pay.appid or settings.wechat.app_id
    fake.add_merchant(DEMO_MCHID, appid, serial, wxpay.public_pem(key), apiv3_key)
    demo = settings.demo
    values = {
        "mchid": DEMO_MCHID,
        "merchant_serial": serial,
        "private_key_path": str(key_path),
        "apiv3_key": apiv3_key,
        "platform_public_key_path": str(platform_path),
        "platform_serial": fake.pay_serial,
        "base_url": fake.base_url,
        "notify_url": f"http://{demo.host}:{demo.port}/pay/notify",
    }
    for name, value in values.items():
        setattr(settings.pay, name, value)
    return {f"ZHIBU_PAY__{name.upper()}": value for name, value in values.items()}


def _instance_folder(settings: Settings) -> Path:
    """Where the demo's SQLite file lives (instance/ by default)."""
    url = settings.database.url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).parent
    return Path("instance")


def _start_scheduler(overrides: dict[str, str]) -> Any:
    """Run the scheduler beside the demo server, as production runs it: its own process."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, **overrides)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "flask", "--app", "app", "scheduler"], env=env
    )


def _in_venv_path() -> bool:
    import shutil
    import sys

    return shutil.which("flask") == sys.prefix + "/bin/flask"


def _start_fake(host: str, port: int, settings: Settings) -> Any:
    """Start the local fake WeChat API for the demo's outbound calls."""
    from bot.fake import FakeWeChat

    wechat = settings.wechat
    try:
        return FakeWeChat(
            host=host, port=port, appid=wechat.app_id, secret=wechat.app_secret
        ).start()
    except OSError as exc:
        log.warning("fake WeChat not started on %s:%s: %s", host, port, exc)
        return None
