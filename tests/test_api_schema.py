"""The OpenAPI contract, property-based: schemathesis generates requests for every documented
route, valid and invalid, sends them over real HTTP with the token of each kind of caller, and
checks each answer: never a 5xx, a documented status, a JSON body matching its schema.

Path ids are generated too, so most land on nothing (404); tests/test_api_authz.py walks the
real resources of every route with every role.

A hostile run puts into one path parameter, query parameter or body field of each generated
request a value that once answered 500 (QUALITY.md D5): integers past 2^31, 2^63 and 2^64 and
negative ones, JSON nested 1,000 to 30,000 deep, lone surrogates, control characters, times,
days and months in years 0001 to 9999. Every answer must be a documented 4xx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from api.openapi import document
from tests.support.api import Env

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per caller and mode, over all routes at once (derandomized: the same each run).
EXAMPLES = 150


def _run(env: Env, token: str | None, mode: GenerationMode, checks: list[Any]) -> None:
    schema = schemathesis.openapi.from_dict(document())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    seen: set[tuple[str, str, int]] = set()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy(generation_mode=mode))
    def probe(case: Any) -> None:
        if token and not case.operation.definition.raw.get("security", [{}]) == []:
            case.headers = {**(case.headers or {}), **headers}
        response = case.call(base_url=env.server.url)
        case.validate_response(response, checks=checks)
        seen.add((case.method, case.path, response.status_code))

    probe()
    assert len({(m, p) for m, p, _ in seen}) > 1, "the run reached only one route"


CALLERS = ["sec", "m1", "admin", "secx", "stranger", None]


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c or "anonymous")
def test_valid_requests_never_fail_the_contract(env: Env, caller: str | None):
    token = env.token(caller) if caller else None
    _run(env, token, GenerationMode.POSITIVE, CHECKS)


@pytest.mark.parametrize("caller", ["sec", "m1"])
def test_invalid_requests_are_refused_within_the_contract(env: Env, caller: str):
    """Wrong types, unknown fields, missing fields: a documented 4xx, never accepted or 5xx."""
    _run(env, env.token(caller), GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection])


def test_routes_needing_a_token_refuse_requests_without_one(env: Env):
    """schemathesis' ignored_auth check: the same request without credentials is refused."""
    _run(env, env.token("sec"), GenerationMode.POSITIVE, [*CHECKS, ignored_auth])


# ---- the hostile run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text sent as it is (too deep for json.dumps to write)."""

    text: str


def _around(middle: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda a, m, b: a + m + b, st.text(max_size=4), middle, st.text(max_size=4))


def _nested(depth: int) -> Raw:
    """Lists ``depth`` deep, or objects as deep as fit the 64 KiB body cap."""
    if depth % 2:
        return Raw("[" * depth + "]" * depth)
    depth = min(depth, 10_000)
    return Raw('{"a":' * depth + "1" + "}" * depth)


_YEARS = st.sampled_from([1, 2, 1000, 1899, 2101, 9998, 9999])
_OFFSETS = st.sampled_from(["Z", "+08:00", "-14:00", "+14:00", "-12:00", "+00:00"])
_MONTHS = st.integers(1, 12)
_DAYS = st.integers(1, 28)

INTEGERS: dict[str, st.SearchStrategy[Any]] = {
    "integer past 2^31": st.one_of(
        st.integers(min_value=2**31, max_value=2**63 - 1),
        st.integers(min_value=2**63, max_value=2**64 + 1),
        st.integers(min_value=2**64, max_value=2**200),
        st.sampled_from([2**63, 2**64, 2**64 + 1, 10**30]),
    ),
    "negative integer": st.one_of(
        st.integers(min_value=-(2**64) - 1, max_value=-1), st.just(-(2**63) - 1)
    ),
}
TEXTS: dict[str, st.SearchStrategy[Any]] = {
    "lone surrogate": _around(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
    "control character": _around(
        st.characters(codec=None, categories=["Cc"]).filter(lambda c: c != "\n")
    ),
    "extreme time": st.builds(
        lambda y, m, d, h, off: f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:00:00{off}",
        _YEARS,
        _MONTHS,
        _DAYS,
        st.integers(0, 23),
        _OFFSETS,
    ),
    "extreme day": st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", _YEARS, _MONTHS, _DAYS),
    "extreme month": st.builds(lambda y, m: f"{y:04d}-{m:02d}", _YEARS, _MONTHS),
}
NESTING: dict[str, st.SearchStrategy[Any]] = {
    "deep nesting": st.integers(min_value=1_000, max_value=30_000).map(_nested),
}
KINDS = {**INTEGERS, **TEXTS, **NESTING}
# What each place may carry: paths take integers; a query string carries text (a surrogate
# arrives as U+FFFD, as werkzeug decodes it); a body takes anything.
PLACES = {
    "path": sorted(INTEGERS),
    "query": sorted({**INTEGERS, **TEXTS}),
    "body": sorted(KINDS),
}
HOSTILE_EXAMPLES = 200


def must_refuse(kind: str, where: str) -> bool:
    """Whether the value is wrong wherever it goes in that place (an extreme date is fine text,
    and "-5" a fine search string)."""
    if where == "path":
        return True
    if where == "query":
        return kind == "control character"
    return kind not in ("extreme time", "extreme day", "extreme month")


def _slots(case: Any) -> list[tuple[str, str]]:
    """Where a value can go: ("path" | "query" | "body", name)."""
    params = case.operation.definition.raw.get("parameters", [])
    slots = [(p["in"], p["name"]) for p in params if p["in"] in ("path", "query")]
    if isinstance(case.body, dict):
        schema = case.operation.definition.raw["requestBody"]["content"]["application/json"]
        name = schema["schema"].get("$ref", "").rpartition("/")[2]
        fields = document()["components"]["schemas"].get(name, {}).get("properties", {})
        slots += [("body", field) for field in sorted(set(fields) | set(case.body))]
    return slots


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _send(env: Env, case: Any, token: str | None, where: str, name: str, value: Any) -> Any:
    """Send the case over HTTP with ``value`` in one slot (surrogates as WTF-8 bytes)."""
    path_params = dict(case.path_parameters or {})
    query = {k: _text(v) for k, v in (case.query or {}).items() if v is not None}
    body = dict(case.body) if isinstance(case.body, dict) else None
    marker = "hostile value goes here"
    if where == "path":
        path_params[name] = value
    elif where == "query":
        query[name] = _text(value)
    else:
        body = {**(body or {}), name: marker}
    path = case.path
    for key, val in path_params.items():
        path = path.replace("{" + key + "}", str(val))
    url = env.server.url + path
    if query:
        url += "?" + urlencode(query, encoding="utf-8", errors="surrogatepass")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        inner = value.text if isinstance(value, Raw) else json.dumps(value)
        data = json.dumps(body).replace(json.dumps(marker), inner).encode()
        headers["Content-Type"] = "application/json"
    return requests.request(case.method, url, data=data, headers=headers, timeout=30)


def _hostile_run(env: Env, token: str | None) -> None:
    schema = schemathesis.openapi.from_dict(document())
    tried: set[str] = set()

    @settings(
        max_examples=HOSTILE_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    def probe(case: Any, data: Any) -> None:
        slots = _slots(case)
        if not slots:
            return
        where, name = data.draw(st.sampled_from(slots), label="slot")
        kind = data.draw(st.sampled_from(PLACES[where]), label="kind")
        value = data.draw(KINDS[kind], label="value")
        response = _send(env, case, token, where, name, value)
        case.validate_response(response, checks=CHECKS)
        status, shown = response.status_code, (kind, where, name, response.text[:200])
        assert status < 500, shown
        if token is None and case.operation.definition.raw.get("security") != []:
            assert status == 401, shown
        if must_refuse(kind, where):
            assert 400 <= status < 500, shown
        tried.add(kind)

    probe()
    assert tried == set(KINDS), f"the run never tried {sorted(set(KINDS) - tried)}"


@pytest.mark.parametrize("caller", ["sec", "m1", None], ids=lambda c: c or "anonymous")
def test_hostile_values_in_any_field_get_a_documented_4xx(env: Env, caller: str | None):
    _hostile_run(env, env.token(caller) if caller else None)
