"""Check real API answers against the served OpenAPI document (jsonschema, draft 2020-12)."""

from __future__ import annotations

import re
from typing import Any

import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from api.openapi import document

DOC = document()
URI = "urn:zhibu:openapi"
REGISTRY = Registry().with_resource(
    URI, Resource.from_contents(DOC, default_specification=DRAFT202012)
)
# (method, path, status) of every answer checked in this test process.
SEEN: set[tuple[str, str, int]] = set()
# Secrets of the apps under test (app secret, AES key, signing key, robot keys): no answer may
# contain one (QUALITY.md A3). tests/support/api.py adds its app's.
SECRETS: set[str] = set()
# “请发送“交党费 金额”…”: a bot command quoted in a message.
BOT_COMMAND = re.compile(r"发送[“\"]")


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref (components/responses) to its target."""
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def template_of(path: str) -> str | None:
    """The documented path template a concrete path falls under (/meetings/{meeting_id})."""
    if path in DOC["paths"]:
        return path
    for template in DOC["paths"]:
        if "{" in template:
            pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, path):
                return template
    return None


def _download_media(method: str, path: str, status: int) -> tuple[str, ...]:
    """The media types a route documents for this status when it answers a file, else ()."""
    operation = DOC["paths"].get(template_of(path) or path, {}).get(method)
    if operation is None or str(status) not in operation["responses"]:
        return ()
    content = _resolve(operation["responses"][str(status)]).get("content", {})
    return tuple(media for media in content if media != "application/json")


def check(response: requests.Response) -> Any:
    """Assert the answer is JSON and matches the documented schema for its route and status."""
    method = response.request.method.lower()
    path = requests.utils.urlparse(response.url).path
    download = _download_media(method, path, response.status_code)
    if download:  # a file, as documented: one of its media types, no JSON to check
        assert response.headers.get("Content-Type", "").startswith(download), response.headers
        SEEN.add((method, template_of(path) or path, response.status_code))
        return response.content
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        response.status_code,
        response.text[:200],
    )
    leaked = [s for s in SECRETS if s in response.text]
    assert not leaked, f"{response.request.method} {response.url} answered a secret"
    body = response.json()
    status = str(response.status_code)
    if isinstance(body, dict) and isinstance(body.get("errmsg"), str):
        # A refusal tells an API user what went wrong, never which bot command to send.
        assert not BOT_COMMAND.search(body["errmsg"]), f"{method} {path}: {body['errmsg']}"
    path = template_of(path) or path
    operation = DOC["paths"].get(path, {}).get(method)
    if operation is None:  # an unknown route or method: only the error shape is promised
        assert status in ("404", "405"), (method, path, status)
        schema_ref = f"{URI}#/components/schemas/Error"
    else:
        assert status in operation["responses"], f"{method} {path} answered undocumented {status}"
        response_doc = _resolve(operation["responses"][status])
        content = response_doc["content"]["application/json"]["schema"]
        if "$ref" in content:
            schema_ref = URI + content["$ref"]
        else:
            schema_ref = (
                f"{URI}#/"
                + _pointer("paths", path, method, "responses", status)
                + "/content/application~1json/schema"
            )
    validator = Draft202012Validator({"$ref": schema_ref}, registry=REGISTRY)
    errors = sorted(validator.iter_errors(body), key=str)
    assert not errors, f"{method} {path} {status}: {errors[0].message}"
    SEEN.add((method, path, response.status_code))
    return body


class Api:
    """Real HTTP to the live server; every answer is checked against the contract."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()

    def call(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> requests.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = self.http.request(
            method, self.base_url + path, headers=headers, timeout=10, **kw
        )
        check(response)
        return response

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.call("POST", path, **kw)
