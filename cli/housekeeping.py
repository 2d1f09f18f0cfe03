"""`flask --app app prune [--dry-run]`: the prune job's work, now (README: What we keep)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from cli.connection import connection
from core.clock import utcnow
from handlers import housekeeping


@click.command("prune")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted or cleared.")
def prune_command(dry_run: bool) -> None:
    """Delete what is no longer needed and clear old reflections and message texts."""
    with connection():
        result = housekeeping.prune(utcnow(), current_app.config["ZHIBU"], dry_run=dry_run)
    verbs = ("would delete", "would clear") if dry_run else ("deleted", "cleared")
    for kind, n in result.counts.items():
        click.echo(f"{n:>9}  {kind:26} {verbs[kind in result.cleared]}")
