"""Prepared SQL: peewee queries rendered once per database type, then only bound to new values.

Rendering a peewee query to SQL costs more CPU than SQLite takes to run it. A hot path that
runs a few query shapes thousands of times a second (the outbox drain) renders each shape once,
by name, and afterwards only binds the new values:

    cursor = execute(
        "rate_settle",
        lambda v: RateEvent.update(at=v["at"]).where(RateEvent.id == v["id"]),
        {"at": now, "id": event_id},
    )

``build`` must give the same SQL for any values (one shape per name); values are str, int,
dates or aware datetimes (bound as peewee binds them: naive UTC).

``load`` turns the columns of a selected row back into a model instance, as peewee's own
query would (each field's ``python_value``, no field marked dirty).

``BulkInsert`` goes one step further for many rows: the one-row INSERT that peewee renders is
bound to every row, with ``executemany`` on SQLite and pages of
``INSERT … SELECT FROM unnest(…)`` (one typed array a column) on PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar

from peewee import Field, Model

from core.clock import UTC
from models.base import db, is_sqlite

# A parameter of a prepared query: the name of the value it takes, or None and its constant.
Slots = list[tuple[str | None, Any]]
Build = Callable[[Mapping[str, Any]], Any]

_CACHE: dict[tuple[str, str], tuple[str, Slots]] = {}
_PROBE_EPOCH = datetime(2001, 2, 3, tzinfo=UTC)
_PROBE_DAY = date(1901, 2, 3)
# The row tuple of a multi-row VALUES list in the one-row INSERT that peewee renders.
_VALUES_TUPLE = re.compile(r"VALUES (\((?:%s, )*%s\))")


def bindable(value: Any) -> Any:
    """Convert a value the way peewee binds it (aware datetimes become naive UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _probes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return a unique stand-in of the same type for each value."""
    probes: dict[str, Any] = {}
    for index, (field_name, value) in enumerate(values.items()):
        if isinstance(value, datetime):
            probes[field_name] = _PROBE_EPOCH + timedelta(seconds=index)
        elif isinstance(value, date):
            probes[field_name] = _PROBE_DAY + timedelta(days=index)
        elif isinstance(value, int) and not isinstance(value, bool):
            probes[field_name] = 1_000_000_007 + index
        else:
            probes[field_name] = f"\x01probe{index}"
    return probes


def prepare(name: str, build: Build, values: Mapping[str, Any]) -> tuple[str, Slots]:
    """Return the cached SQL of ``build(values)`` and where each value goes in its parameters.

    ``build`` is called once per database type, with unique probe values, to learn the SQL and
    which parameter is which value (the others are constants of the query).
    """
    key = (name, type(db.obj).__name__)
    prepared = _CACHE.get(key)
    if prepared is None:
        probes = _probes(values)
        sql, params = db.obj.get_sql_context().sql(build(probes)).query()
        names = {repr(bindable(v)): n for n, v in probes.items()}
        slots = [(names.get(repr(p)), p) for p in params]
        if {n for n, _ in slots if n} != set(values):
            raise RuntimeError(f"query {name}: cannot place every value in its SQL")
        prepared = _CACHE[key] = (sql, slots)
    return prepared


def bind(slots: Slots, values: Mapping[str, Any]) -> list[Any]:
    """Return the parameters of a prepared query for ``values``."""
    return [bindable(values[n]) if n else p for n, p in slots]


def execute(name: str, build: Build, values: Mapping[str, Any]) -> Any:
    """Execute the query ``build(values)`` through its cached SQL; return the cursor."""
    sql, slots = prepare(name, build, values)
    return db.execute_sql(sql, bind(slots, values))


def fetchone(name: str, build: Build, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Execute the prepared query ``build(values)``; return its first row, or None."""
    return execute(name, build, values).fetchone()


M = TypeVar("M", bound=Model)


def columns(*models: type[Model]) -> list[Any]:
    """The fields ``load`` reads a row of these models by: each model's sorted fields in turn."""
    return [field for model in models for field in model._meta.sorted_fields]


def load(model: type[M], row: Sequence[Any], start: int = 0, **related: Model) -> M:
    """Return the ``model`` instance whose ``columns(model)`` begin at ``row[start]``.

    It is built as peewee builds a selected row: each value through its field's
    ``python_value``, the ``related`` instances (joined models) set on their foreign keys,
    no field marked dirty.
    """
    fields = model._meta.sorted_fields
    values = row[start : start + len(fields)]
    instance = model(__no_default__=1)
    # Straight into the field values, as the field descriptors would store them.
    instance.__data__ = {
        f.name: None if v is None else f.python_value(v)
        for f, v in zip(fields, values, strict=True)
    }
    for name, value in related.items():
        setattr(instance, name, value)
    instance._dirty.clear()
    return instance


def day_reader(field: Field) -> Callable[[Any], Any]:
    """``field.python_value`` of a DateField, fast for the ISO text SQLite gives back
    (``YYYY-MM-DD``, which peewee reads with strptime); any other value goes to peewee."""
    slow = field.python_value
    fromisoformat = date.fromisoformat

    def read(value: Any) -> Any:
        if value.__class__ is str and len(value) == 10 and value[4] == value[7] == "-":
            return fromisoformat(value)
        return slow(value)

    return read


def saved(instance: M, pk: Any) -> M:
    """Mark a model instance inserted by a prepared query as saved, with its primary key."""
    instance._pk = pk
    instance._dirty.clear()
    return instance


def sqlite_adapted(value: Any) -> Any:
    """A value as Python's sqlite3 binds it: through its registered adapter, if any."""
    adapt = sqlite3.adapters.get((type(value), sqlite3.PrepareProtocol))
    return value if adapt is None else adapt(value)


@dataclass(frozen=True)
class BulkInsert:
    """Many rows for one prepared one-row INSERT, bound ahead of the write transaction."""

    sql: str
    params: list[tuple[Any, ...]]

    @classmethod
    def of(
        cls,
        name: str,
        build: Build,
        first: Mapping[str, Any],
        varying: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> BulkInsert:
        """Bind ``rows`` to the INSERT ``build(first)``.

        ``first`` holds every column value of one row; ``varying`` names the columns whose
        values come from each row's tuple (in the tuple's order); the other columns take their
        value in ``first`` for every row.
        """
        sql, slots = prepare(name, build, first)
        # Each parameter is a value that varies by row (its index in the row's tuple) or one
        # that holds for every row (``first``'s other values, the query's constants), appended
        # to each row's tuple.
        fixed = [bindable(first[n]) if n else p for n, p in slots if n not in varying]
        if is_sqlite():
            # The driver would turn datetimes into text again for every row: do it once, with
            # the adapter it would use.
            fixed = [sqlite_adapted(value) for value in fixed]
        positions, k = [], len(varying)
        for n, _ in slots:
            if n in varying:
                positions.append(varying.index(n))
            else:
                positions.append(k)
                k += 1
        pick = itemgetter(*positions)
        constants = tuple(fixed)
        return cls(sql, [pick(row + constants) for row in rows])

    def execute(self, page_size: int) -> int:
        """Insert the rows (inside the caller's transaction); return how many were inserted.

        SQLite: ``executemany``. PostgreSQL: pages of ``page_size`` rows, each one statement
        binding one array a column.
        """
        cursor = db.cursor()
        if is_sqlite():
            cursor.executemany(self.sql, self.params)
            return max(cursor.rowcount, 0)
        return _unnest_insert(cursor, self.sql, self.params, page_size)


# ``INSERT INTO "table" ("a", "b", …) VALUES (%s, %s, …)`` as peewee renders a one-row INSERT.
_INSERT_HEAD = re.compile(r'^INSERT INTO "(?P<table>[^"]+)" \((?P<columns>[^)]*)\) VALUES ')
_PG_TYPES: dict[str, dict[str, str]] = {}


def _pg_column_types(cursor: Any, table: str) -> dict[str, str]:
    """The SQL type of each column of ``table`` (read once per process)."""
    types = _PG_TYPES.get(table)
    if types is None:
        cursor.execute(
            "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        )
        types = _PG_TYPES[table] = dict(cursor.fetchall())
    return types


def _unnest_insert(cursor: Any, sql: str, params: list[tuple[Any, ...]], page_size: int) -> int:
    """Insert ``params`` rows as one ``INSERT … SELECT … FROM unnest(array, …)`` per page.

    A column whose value varies travels as one typed array, a column with the same value in
    every row of the page (a status, a time, a counter's start) as one value: PostgreSQL parses
    one short statement per page instead of a VALUES list of page x columns literals, and the
    rest of the one-row INSERT (``ON CONFLICT DO NOTHING``) applies to every row.
    """
    head = _INSERT_HEAD.match(sql)
    match = _VALUES_TUPLE.search(sql)
    if head is None or match is None or match.group(1).count("%s") != len(params[0]):
        raise RuntimeError(f"unexpected INSERT shape for a bulk insert: {sql}")
    names = [c.strip().strip('"') for c in head.group("columns").split(",")]
    types = _pg_column_types(cursor, head.group("table"))
    inserted = 0
    for start in range(0, len(params), page_size):
        columns = list(zip(*params[start : start + page_size], strict=True))
        # The first column always travels as an array: it gives the page its rows.
        same = [k > 0 and c.count(c[0]) == len(c) for k, c in enumerate(columns)]
        picks = [f"%s::{types[n]}" if same[k] else f'"u"."{n}"' for k, n in enumerate(names)]
        arrays = [f"%s::{types[n]}[]" for k, n in enumerate(names) if not same[k]]
        aliases = [f'"{n}"' for k, n in enumerate(names) if not same[k]]
        # The SQL is peewee's own INSERT and the catalogue's type names: no outside text.
        select = (
            f"SELECT {', '.join(picks)} FROM unnest({', '.join(arrays)})"  # noqa: S608
            f' AS "u"({", ".join(aliases)})'
        )
        paged = sql[: match.start()] + select + sql[match.end() :]
        values = [c[0] for k, c in enumerate(columns) if same[k]]
        values += [list(c) for k, c in enumerate(columns) if not same[k]]
        cursor.execute(paged, values)
        inserted += max(cursor.rowcount, 0)
    return inserted
