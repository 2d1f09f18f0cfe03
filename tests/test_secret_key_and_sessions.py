"""The signing key and the sessions it signs: outside the demo, start-up refuses an empty,
example or short app.secret_key; a token names its session by a random id, and a payload of any
other shape is refused; existing sessions migrate.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from itsdangerous import URLSafeTimedSerializer

from api.auth import TOKEN_SALT
from core import config
from core.config import DEMO_APPID, ConfigError
from models.api import ApiSession
from tests.support.api import Env
from tests.support.apps import PG_URL
from tests.support.procs import ROOT, clean_env, python

STRONG = "k" * 32
DEMO_SECRET_KEY = "demo-secret-key-change-me"  # noqa: S105 - the public example key
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")


def config_file(tmp_path: Path, key: str | None) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text("" if key is None else f'[app]\nsecret_key = "{key}"\n', encoding="utf-8")
    return {"ZHIBU_CONFIG": str(path)}


def refusal(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        config.load(environ=environ)
    line = str(caught.value.code)
    assert "\n" not in line
    assert line.startswith("config error: app.secret_key: "), line
    return line


# ---- start-up ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [None, DEMO_SECRET_KEY, "test-secret-key", "x" * 31, "密" * 10, " " * 40],
    ids=["unset", "example", "short", "31-bytes", "30-bytes-of-chinese", "blank"],
)
def test_a_config_file_needs_a_key_of_its_own(tmp_path, key):
    refusal(config_file(tmp_path, key))


def test_the_example_file_as_it_ships_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(EXAMPLE, encoding="utf-8")
    assert "example key is public" in refusal({"ZHIBU_CONFIG": str(path)})


def test_the_environment_may_supply_the_key(tmp_path):
    environ = config_file(tmp_path, None) | {"ZHIBU_APP__SECRET_KEY": STRONG}
    assert config.load(environ=environ).app.secret_key == STRONG
    for key in ("x" * 32, "密" * 11):  # 32 and 33 bytes
        assert config.load(environ=config_file(tmp_path, key)).app.secret_key == key
    environ["ZHIBU_APP__SECRET_KEY"] = DEMO_SECRET_KEY  # the environment overrides the file
    refusal(environ)


def test_a_real_app_id_without_a_file_is_a_deployment_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no config.toml here
    real = {"ZHIBU_WECHAT__APP_ID": "wx0123456789abcdef"}
    refusal(real)
    refusal(real | {"ZHIBU_APP__SECRET_KEY": "short"})
    assert config.load(environ=real | {"ZHIBU_APP__SECRET_KEY": STRONG})


def test_the_demo_runs_on_the_example_key(tmp_path, monkeypatch):
    """No file and the demo's app id: `make demo`, and its scheduler process, which gets the
    fake's addresses from the environment."""
    monkeypatch.chdir(tmp_path)
    assert config.load(environ={}).app.secret_key == DEMO_SECRET_KEY
    scheduler_env = {
        "ZHIBU_WECHAT__API_BASE_URL": "http://127.0.0.1:8910",
        "ZHIBU_CHANNELS__WECOM_API_BASE_URL": "http://127.0.0.1:8910",
        "ZHIBU_CHANNELS__PERSONAL_FALLBACK": "console",
    }
    settings = config.load(environ=scheduler_env)
    assert settings.wechat.app_id == DEMO_APPID
    with pytest.raises(ConfigError):  # empty is refused everywhere
        config.load(environ={"ZHIBU_APP__SECRET_KEY": ""})


def child_env(**extra: str) -> dict[str, str]:
    """A child's environment with no config file (unless ``extra`` names one)."""
    env = clean_env(PYTHONPATH=str(ROOT))
    del env["ZHIBU_CONFIG"]
    return env | extra


def test_start_up_with_the_example_key_stops_with_one_line(tmp_path):
    proc = subprocess.run(
        python("-m", "flask", "--app", "app", "db", "status"),
        cwd=ROOT,
        env=child_env(ZHIBU_CONFIG=config_file(tmp_path, DEMO_SECRET_KEY)["ZHIBU_CONFIG"]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("config error: app.secret_key:"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_demo_path_still_works(tmp_path):
    """`make demo` (flask demo) and `flask simulate`, from a folder without config.toml."""

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            python("-m", "flask", "--app", "app", *args),
            cwd=tmp_path,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )

    demo = flask("demo", "--no-serve")
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "zhibu demo" in demo.stdout and "demo defaults" in demo.stderr
    assert (tmp_path / "instance" / "zhibu.db").exists()
    sim = flask("simulate", "--local", "--openid", "demo-openid-01", "我的")
    assert sim.returncode == 0, sim.stderr[-2000:]
    assert "陈静" in sim.stdout


# ---- tokens -----------------------------------------------------------------------------------


def forge(key: str, payload: Any) -> str:
    return URLSafeTimedSerializer(key, salt=TOKEN_SALT).dumps(payload)


def test_session_ids_in_tokens_are_random(env: Env):
    key = env.settings.app.secret_key
    tokens = [env.token("m1"), env.token("m1"), env.token("sec")]
    sids = [URLSafeTimedSerializer(key, salt=TOKEN_SALT).loads(t)["sid"] for t in tokens]
    assert len(set(sids)) == 3
    with env.ctx():
        rows = {row.token_id: row for row in ApiSession.select()}
    assert set(rows) == set(sids)
    for sid in sids:
        assert isinstance(sid, str) and len(sid) == 32 and not sid.isdigit()


@pytest.mark.parametrize(
    "payload",
    [
        {"sid": True},
        {"sid": 1},
        {"sid": 3},
        {"sid": "1"},
        {"sid": 1.0},
        {"sid": None},
        {"sid": ["x"]},
        {"sid": {"id": 1}},
        {"sid": "\x00" * 32},
        {"sid": "é" * 32},
        {},
        [1],
        "1",
        1,
        None,
    ],
    ids=repr,
)
def test_a_token_of_the_wrong_shape_is_refused(env: Env, payload):
    """Signed with the app's own key: only the shape of the payload is wrong."""
    for who in ("m1", "sec", "admin"):  # sessions 1, 2 and 3 exist
        assert env.api.get("/api/v1/me", token=env.token(who)).status_code == 200
    token = forge(env.settings.app.secret_key, payload)
    r = env.api.get("/api/v1/me", token=token)
    assert r.status_code == 401 and r.json()["errcode"] == "token_invalid", r.text
    r = env.api.get("/api/v1/branch/overview", token=token)
    assert r.status_code == 401, r.text


def test_a_token_forged_with_the_example_key_is_refused(env: Env):
    key = env.settings.app.secret_key
    real = env.token("sec")
    sid = URLSafeTimedSerializer(key, salt=TOKEN_SALT).loads(real)["sid"]
    for payload in ({"sid": sid}, {"sid": 3}, {"sid": True}):
        r = env.api.get("/api/v1/branch/overview", token=forge(DEMO_SECRET_KEY, payload))
        assert r.status_code == 401 and r.json()["errcode"] == "token_invalid", r.text
    assert env.api.get("/api/v1/branch/overview", token=real).status_code == 200


# ---- existing sessions migrate ----------------------------------------------------------------


@pytest.fixture
def scratch_url(tmp_path: Path) -> Any:
    """An empty database of its own (the migration test walks the schema from 0006)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"zhibu_migrate_{uuid.uuid4().hex[:12]}"

    def admin(sql: str) -> None:
        conn = psycopg2.connect(PG_URL)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.close()

    admin(f'CREATE DATABASE "{name}"')
    yield f"{PG_URL.rpartition('/')[0]}/{name}"
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_db_upgrade_gives_existing_sessions_random_ids(scratch_url):
    from models.base import open_database
    from models.migrate import runner

    database = open_database(scratch_url)
    runner(database).up("0006_api")
    for n in range(3):
        database.execute_sql(
            "INSERT INTO api_session (openid, issued_at, expires_at) "
            f"VALUES ('mini-{n}', '2026-01-01 00:00:00', '2099-01-01 00:00:00')"
        )
    database.close()

    proc = subprocess.run(
        python("-m", "flask", "--app", "app", "db", "upgrade"),
        cwd=ROOT,
        env=clean_env(ZHIBU_DATABASE__URL=scratch_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0007_api_session_token_id" in proc.stdout

    database = open_database(scratch_url)
    rows = database.execute_sql("SELECT id, token_id FROM api_session ORDER BY id").fetchall()
    assert [row_id for row_id, _ in rows] == [1, 2, 3]
    ids = [token_id for _, token_id in rows]
    assert len(set(ids)) == 3 and all(len(t) == 32 for t in ids)
    with pytest.raises(Exception, match="(?i)unique|constraint"):  # the index holds
        with database.atomic():
            database.execute_sql(f"UPDATE api_session SET token_id = '{ids[0]}' WHERE id = 2")
    with pytest.raises(Exception, match="(?i)null"):
        with database.atomic():
            database.execute_sql(
                "INSERT INTO api_session (openid, issued_at, expires_at) "
                "VALUES ('x', '2026-01-01 00:00:00', '2099-01-01 00:00:00')"
            )
    database.close()
