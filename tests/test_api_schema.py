"""The OpenAPI contract, property-based: schemathesis generates requests for every documented
route, valid and invalid, sends them over real HTTP with the token of each kind of caller, and
checks each answer: never a 5xx, a documented status, a JSON body matching its schema.

Path ids are generated too, so most land on nothing (404); tests/test_api_authz.py walks the
real resources of every route with every role.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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
from tests.api_env import Env

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
