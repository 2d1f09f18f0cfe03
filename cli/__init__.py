"""The `flask --app app …` front door: db, simulate, demo here; each feature's group in its module.

Command objects here never share a name with a submodule (`cli.demo` the module would replace
`cli.demo` the command once imported), hence `demo_command`.
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from cli.assessment import assessment_cli, report_assessment
from cli.channels import channels_cli, outbox_cli
from cli.dues import dues_cli
from cli.housekeeping import prune_command
from cli.meetings import meetings_cli
from cli.member import member_cli
from cli.pay import pay_cli, simulate_pay
from cli.reads import privacy_cli
from cli.report import report_cli
from cli.roster import roster_cli
from cli.scheduler import jobs_command, scheduler_command
from cli.study import study_cli

db_cli = AppGroup("db", help="Database schema migrations.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from handlers.schema import upgrade_schema

    applied = upgrade_schema()
    click.echo("applied: " + ", ".join(applied) if applied else "schema is up to date")


@db_cli.command("status")
def db_status() -> None:
    """List migrations and whether each is applied."""
    from handlers.schema import schema_status

    for m in schema_status():
        click.echo(f"{m.name:40} {'applied ' + str(m.applied) if m.applied else 'PENDING'}")


@click.command("simulate")
@with_appcontext
@click.option("--openid", default="demo-openid-01", show_default=True, help="Sender's openid.")
@click.option("--event", "event", default=None, help="Send an event instead: subscribe, SCAN…")
@click.option("--scan", "scene", default=None, help="Scan a QR scene (SCAN, or subscribe if new).")
@click.option("--new-follower", is_flag=True, help="With --scan: the scanner does not follow yet.")
@click.option("--url", default=None, help="Callback URL (default: the demo server).")
@click.option("--local", is_flag=True, help="Run in-process instead of over HTTP.")
@click.argument("text", required=False, default="")
def simulate(
    openid: str,
    event: str | None,
    scene: str | None,
    new_follower: bool,
    url: str | None,
    local: bool,
    text: str,
) -> None:
    """Send a message to /wechat exactly as WeChat would and print the decrypted reply."""
    from bot.simulate import CallbackDriver, ReplyError, flask_poster

    settings = current_app.config["ZHIBU"]
    wechat, demo = settings.wechat, settings.demo
    driver = CallbackDriver(
        token=wechat.token,
        aes_key=wechat.encoding_aes_key,
        app_id=wechat.app_id,
        mode=wechat.mode,
        url=url or f"http://{demo.host}:{demo.port}/wechat",
        poster=flask_poster(current_app.test_client()) if local else None,
    )
    if scene:
        xml = driver.scan_xml(openid, scene, follower=not new_follower)
    elif event:
        xml = driver.event_xml(openid, event)
    elif text:
        xml = driver.text_xml(openid, text)
    else:
        raise click.UsageError("give the TEXT to send, or --event, or --scan")
    try:
        delivery = driver.deliver(xml)
    except ReplyError as exc:
        click.echo(f"invalid reply: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"cannot reach {driver.url}: {exc} (is `make demo` running?)", err=True)
        sys.exit(1)
    if delivery.status != 200:
        click.echo(f"HTTP {delivery.status}: {delivery.body[:300]}", err=True)
        sys.exit(1)
    click.echo(delivery.reply if delivery.reply is not None else "(success: no reply)")


@click.command("simulate-login")
@with_appcontext
@click.option("--openid", default="demo-mini-01", show_default=True, help="Mini-program openid.")
@click.option("--api", "api_url", default=None, help="API root (default: the demo's /api/v1).")
@click.option("--fake", "fake_url", default=None, help="Fake WeChat (default: the demo's).")
def simulate_login(openid: str, api_url: str | None, fake_url: str | None) -> None:
    """Log in to the mini-program API as the mini-program would; print the answer and examples.

    The fake WeChat plays wx.login (a single-use code for the openid); the code goes to
    POST /api/v1/login, which exchanges it through jscode2session like in production.
    """
    import json

    import requests

    demo = current_app.config["ZHIBU"].demo
    fake_url = (fake_url or f"http://{demo.host}:{demo.fake_wechat_port}").rstrip("/")
    api_url = (api_url or f"http://{demo.host}:{demo.port}/api/v1").rstrip("/")
    try:
        issued = requests.post(f"{fake_url}/fake/js_code", params={"openid": openid}, timeout=5)
        code = issued.json().get("code")
        if not code:
            raise click.ClickException(f"the fake WeChat refused: {issued.text[:200]}")
        answer = requests.post(f"{api_url}/login", json={"code": code}, timeout=10)
    except (requests.RequestException, ValueError) as exc:
        click.echo(f"cannot reach the demo: {exc} (is `make demo` running?)", err=True)
        sys.exit(1)
    body = answer.json()
    click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    if answer.status_code != 200:
        sys.exit(1)
    auth = f"Authorization: Bearer {body['token']}"
    click.echo("\nTry:")
    paths = ["me", "study/today", "meetings", "dues/me"]
    if not body["bound"]:
        click.echo(
            f"  curl -s -H '{auth}' -H 'Content-Type: application/json' "
            f'-d \'{{"code": "BINDING-CODE"}}\' {api_url}/bind'
        )
    elif any(r["code"] in ("secretary", "committee_admin") for r in body["member"]["roles"]):
        paths += ["branch/overview", "branch/members?limit=5", "dues/branch"]
    for path in paths:
        click.echo(f"  curl -s -H '{auth}' '{api_url}/{path}'")
    click.echo(
        f"  curl -s -H '{auth}' -H 'Content-Type: application/json' "
        f'-d \'{{"reflection": "学习了党章"}}\' {api_url}/study/checkins'
    )


@click.command("demo")
@with_appcontext
@click.option("--no-serve", is_flag=True, help="Only create and fill the demo database.")
def demo_command(no_serve: bool) -> None:
    """Create the demo database, start the fake WeChat and serve on 127.0.0.1."""
    from cli.demo import run_demo

    run_demo(current_app._get_current_object(), serve=not no_serve)


@click.command("fake-wechat")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Default: demo.fake_wechat_port.")
def fake_wechat(host: str, port: int | None) -> None:
    """Run the local fake WeChat / WeCom API alone, until Ctrl-C."""
    from bot.fake import main

    settings = current_app.config["ZHIBU"]
    port = port or settings.demo.fake_wechat_port
    wechat = settings.wechat
    args = ["--host", host, "--port", str(port), "--appid", wechat.app_id]
    sys.exit(main(args + ["--secret", wechat.app_secret]))


def register_cli(app: Flask) -> None:
    """Attach every command group to the app's CLI."""
    app.cli.add_command(db_cli)
    app.cli.add_command(simulate)
    app.cli.add_command(simulate_login)
    app.cli.add_command(simulate_pay)
    app.cli.add_command(demo_command)
    app.cli.add_command(fake_wechat)
    app.cli.add_command(roster_cli)
    app.cli.add_command(member_cli)
    app.cli.add_command(meetings_cli)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(jobs_command)
    app.cli.add_command(prune_command)
    app.cli.add_command(dues_cli)
    app.cli.add_command(pay_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(channels_cli)
    app.cli.add_command(study_cli)
    report_cli.add_command(report_assessment)
    app.cli.add_command(report_cli)
    app.cli.add_command(assessment_cli)
    app.cli.add_command(privacy_cli)
