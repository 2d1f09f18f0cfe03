"""Several hosts starting at once each run `flask --app app db upgrade` on one empty database
(the web unit does so before gunicorn starts): they take turns, every one succeeds, and each
migration is applied exactly once."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from models.base import open_database
from models.migrate import pending, runner
from tests.support.apps import PG_URL
from tests.support.procs import ROOT, clean_env, python

pytestmark = pytest.mark.process
PROCESSES = 4


def _admin(sql: str) -> None:
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"zhibu_upgrade_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    yield f"{PG_URL.rpartition('/')[0]}/{name}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_upgrades_take_turns_and_apply_each_migration_once(
    empty_url: str, tmp_path: Path
) -> None:
    env = clean_env(ZHIBU_DATABASE__URL=empty_url)
    procs = [
        subprocess.Popen(
            python("-m", "flask", "--app", "app", "db", "upgrade"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * PROCESSES, outputs
    # One process applied everything; the others found the schema current.
    applied = [out for out in outputs if "applied: " in out]
    assert len(applied) == 1, outputs
    assert sum("schema is up to date" in out for out in outputs) == PROCESSES - 1, outputs
    database = open_database(empty_url)
    try:
        names = [m.name for m in runner(database).status() if m.applied is not None]
        assert len(names) == len(set(names)) > 20
        assert pending(database) == []
    finally:
        database.close()
