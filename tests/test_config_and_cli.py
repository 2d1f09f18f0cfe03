"""Configuration loading and the command line: migrations, simulate, demo."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playhouse.schema_diff import diff_models

from core import config
from core.config import ConfigError
from core.logs import MaskPhones
from models.base import db
from models.org import Member
from models.registry import ALL_MODELS

ROOT = Path(__file__).parent.parent
# A config file makes a deployment, which needs a signing key of its own.
STRONG_KEY = '[app]\nsecret_key = "a-test-key-that-is-long-enough-0123456789"\n'


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    return {"ZHIBU_CONFIG": str(path)}


def test_defaults_run_the_demo_without_any_file(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)  # no config.toml here
    with caplog.at_level(logging.WARNING):
        settings = config.load(environ={})
    assert any("demo defaults" in r.getMessage() for r in caplog.records)
    assert settings.wechat.mode == "safe"
    assert settings.app.timezone == "Asia/Shanghai"
    assert settings.wechat.timestamp_window == 300
    assert settings.database.lock_timeout == 2.0


def test_file_then_environment_override(tmp_path):
    env = write(tmp_path, f'{STRONG_KEY}[wechat]\ntoken = "from-file"\ntimestamp_window = 120\n')
    env["ZHIBU_WECHAT__TOKEN"] = "from-env"
    env["ZHIBU_DATABASE__LOCK_TIMEOUT"] = "1.5"
    settings = config.load(environ=env)
    assert settings.wechat.token == "from-env"
    assert settings.wechat.timestamp_window == 120
    assert settings.database.lock_timeout == 1.5


@pytest.mark.parametrize(
    ("text", "env", "key", "says"),
    [
        ('[wechat]\nencoding_aes_key = "short"\n', {}, "wechat.encoding_aes_key", "43-character"),
        ('[wechat]\nmode = "compat"\n', {}, "wechat.mode", "safe, plain"),
        ('[database]\nurl = "mysql://x"\n', {}, "database.url", "sqlite:///"),
        ('[app]\ntimezone = "Mars/Olympus"\n', {}, "app.timezone", "IANA"),
        ('[wechat]\ntimestamp_window = "soon"\n', {}, "wechat.timestamp_window", "expected int"),
        ("[wechat]\ntokn = 1\n", {}, "wechat.tokn", "unknown setting"),
        ("[nope]\n", {}, "nope", "unknown section"),
        ("", {"ZHIBU_WECHAT__TIMESTAMP_WINDOW": "abc"}, "wechat.timestamp_window", "int"),
        ("", {"ZHIBU_WECHAT__BOGUS": "1"}, "ZHIBU_WECHAT__BOGUS", "unknown setting"),
        ("", {"ZHIBU_BINDING__CODE_LENGTH": "6"}, "binding.code_length", "at least 8"),
        ("[wechat\n", {}, "c.toml", "not valid TOML"),
    ],
)
def test_a_wrong_value_names_the_key_and_what_is_expected(tmp_path, text, env, key, says):
    environ = write(tmp_path, text) | env
    with pytest.raises(ConfigError) as err:
        config.load(environ=environ)
    assert key in str(err.value.code) and says in str(err.value.code)
    assert "\n" not in str(err.value.code)


def test_missing_named_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(environ={"ZHIBU_CONFIG": str(tmp_path / "absent.toml")})


@pytest.mark.process
def test_bad_config_stops_the_cli_with_one_line(tmp_path):
    env = dict(os.environ, ZHIBU_WECHAT__ENCODING_AES_KEY="too-short")
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "status"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("config error: wechat.encoding_aes_key:"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_plain_mode_warns_at_start(db_url, caplog):
    from tests.support.apps import make_app

    with caplog.at_level(logging.WARNING):
        make_app(db_url, wechat={"mode": "plain"})
    assert any("'plain'" in r.getMessage() for r in caplog.records)


def test_secrets_are_redacted_for_logging():
    settings = config.load(environ={})
    shown = config.redacted(settings)
    logged = shown["wechat"]  # a plain dict, ready for the log
    assert logged["app_secret"] == logged["encoding_aes_key"] == "***"
    assert settings.wechat.app_secret != "***"


def test_phone_numbers_are_masked_in_logs():
    args = ("13812345678",)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "member %s bound", args, None)
    MaskPhones().filter(record)
    assert record.getMessage() == "member 138****5678 bound"


def test_migrations_build_exactly_the_models_schema(app):
    with app.app_context(), db.connection_context():
        drift = diff_models(db.obj, ALL_MODELS)
    assert not drift, f"models and migrations disagree:\n{drift}"


def test_connection_pragmas_on_sqlite(app, db_url):
    if not db_url.startswith("sqlite"):
        with db.connection_context():
            (timeout,) = db.execute_sql("SHOW lock_timeout").fetchone()
        assert timeout in ("2s", "2000ms")
        return
    with db.connection_context():
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 2000


def test_db_upgrade_command_is_idempotent(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "up to date" in result.output
    status = runner.invoke(args=["db", "status"])
    assert "0001_initial" in status.output and "PENDING" not in status.output


def test_simulate_local_round_trip(app):
    from tests import factories as f

    with app.app_context(), db.connection_context():
        f.bound(f.member("张三"), "sim-openid")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["simulate", "--local", "--openid", "sim-openid", "学习 读党章"])
    assert result.exit_code == 0, result.output
    assert "学习打卡成功" in result.output
    args = ["simulate", "--local", "--openid", "sim-openid", "--event", "subscribe"]
    result = runner.invoke(args=args)
    assert "张三同志，欢迎回来" in result.output
    result = runner.invoke(args=["simulate", "--local"])
    assert result.exit_code != 0 and "TEXT" in result.output


def test_demo_seed_is_idempotent_and_its_printed_commands_work(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["demo", "--no-serve"])
    assert "2 branches, 19 members" in again.output
    # Seeing it run: the demo serves /metrics to this machine, and says how to look.
    assert "/metrics | grep ^zhibu_" in again.output
    scraped = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert scraped.status_code == 200 and b"zhibu_database_up 1.0" in scraped.data
    line = next(x for x in again.output.splitlines() if "绑定 " in x)
    code = line.rsplit("绑定 ", 1)[1].strip("'\" ")
    ok = runner.invoke(args=["simulate", "--local", "--openid", "newbie", f"绑定 {code}"])
    assert "绑定成功！刘洋同志" in ok.output, ok.output
    study = runner.invoke(args=["simulate", "--local", "--openid", "demo-openid-01", "学习 心得"])
    assert "今日主题：学习《中国共产党章程》总纲" in study.output
    items = runner.invoke(args=["simulate", "--local", "--openid", "demo-openid-01", "清单"])
    assert "【编号2】任务清单 · 待整改" in items.output, items.output
    line = next(x for x in again.output.splitlines() if "完成 2 " in x)
    done = line.split("demo-openid-01 ", 1)[1].strip("'\" ")
    reply = runner.invoke(args=["simulate", "--local", "--openid", "demo-openid-01", done])
    assert "已标记完成：【编号2】任务清单" in reply.output, reply.output
    line = next(x for x in again.output.splitlines() if "志愿 2小时" in x)
    service = line.split("demo-openid-01 ", 1)[1].split("   #")[0].strip("'\" ")
    logged = runner.invoke(args=["simulate", "--local", "--openid", "demo-openid-01", service])
    assert "已登记志愿服务" in logged.output and "待支部书记确认" in logged.output, logged.output
    mine = runner.invoke(args=["simulate", "--local", "--openid", "demo-openid-01", "我的"])
    assert "学时：16/32 学时" in mine.output and "本年志愿服务：已确认 2小时" in mine.output
    with app.app_context(), db.connection_context():
        from models.volunteer import VolunteerEntry

        statuses = sorted(e.status for e in VolunteerEntry.select())
        assert statuses == ["confirmed", "confirmed", "pending", "pending"]
        assert Member.select().where(Member.birth_date.is_null(False)).count() == 11
