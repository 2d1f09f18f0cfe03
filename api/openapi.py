"""The OpenAPI 3.1 contract of /api/v1, served at /api/v1/openapi.json and checked by tests.

spectree generates it from the routes and the pydantic models (api/shapes) each route declares
with ``operation``; routes validate their own input with api.common.body and query, so spectree
only documents (``skip_validation``). The document also tells ``_guard`` which operations are
open to anyone.
"""

from __future__ import annotations

import copy
import functools
import importlib
import re
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from spectree import Response, SpecTree

from api.common import INT_MAX, IdConverter, bp, session
from api.shapes import Error, invalid

# Route modules that register views on the blueprint in api.common (api.v1 is imported by
# api.init_app itself).
MODULES: tuple[str, ...] = (
    "api.meetings",
    "api.dues",
    "api.branch",
    "api.study",
    "api.reports",
    "api.rectification",
    "api.organization",
    "api.assessment",
    "api.volunteer",
    "api.development",
    "api.pay",
    "api.privacy",
    "api.membership",
    "api.reads",
)

DESCRIPTION = (
    "Times are ISO 8601 with +08:00; days are YYYY-MM-DD. Every error is "
    '{"errcode": "<stable code>", "errmsg": "<中文说明>"}. Unknown body fields are '
    "refused. Send the login token as `Authorization: Bearer <token>`: a route that "
    "needs it answers 401 before it looks at anything else. Bodies are JSON (415 "
    "otherwise), nested at most api.max_json_depth deep; text takes no control "
    "characters (multi-line fields keep line breaks) and no lone surrogates; integers "
    "and ids are at most 2147483647; times, days and months fall within "
    "api.earliest_year..api.latest_year. A busy database answers 503 with Retry-After."
)

ERROR_TEXT = {
    "400": "Validation failed (errmsg names the field), unknown field, bad JSON, refused code",
    "401": "Token missing, expired, forged or revoked",
    "403": "Not bound yet, or not allowed",
    "404": "No such route, or no such resource among those the caller may see",
    "405": "Method not allowed",
    "409": "Conflict (e.g. already bound)",
    "413": "Body over app.max_body_bytes",
    "415": "A body whose Content-Type is not JSON (a body without one is read as JSON)",
    "422": "Refused by a rule of the branch's work (errmsg says which and what to do)",
    "429": "Rate limited",
    "500": "Unexpected failure (generic message, logged)",
    "502": "WeChat unavailable",
    "503": "Database busy after a short retry; try again after Retry-After seconds",
}
# Statuses any operation may answer.
ALWAYS = ("404", "405", "413", "500", "503")
BEARER = [{"bearer": []}]
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait (api.busy_retry_after_seconds)",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
ID = {"type": "integer", "minimum": 1}

_NAMED: dict[str, Any] = {}
# Operations answering a file rather than JSON: summary -> media types of their 200 answer.
_DOWNLOADS: dict[str, tuple[str, ...]] = {}
BINARY = {"type": "string", "format": "binary"}


def _component_name(model: Any) -> str:
    """A model's component name is its class name, which no other model may have."""
    name = model.__name__
    if _NAMED.setdefault(name, model) is not model:
        raise RuntimeError(f"two models are named {name}: {model!r} and {_NAMED[name]!r}")
    return name


SPEC = SpecTree(
    "flask",
    mode="strict",  # only the routes declared with ``operation``
    annotations=False,
    naming_strategy=_component_name,
    nested_naming_strategy=lambda _parent, child: child,
    title="zhibu mini-program API",
    version="1",
    description=DESCRIPTION,
)


class Answers(Response):
    """The statuses an operation declares, and only those: spectree would add its own
    validation-error status to every operation, but our routes validate in api.common and
    declare 400 themselves where it can happen."""

    def add_model(
        self, code: int, model: Any, replace: bool = True, description: str | None = None
    ) -> None:
        if replace:
            super().add_model(code, model, replace, description)


def operation(
    summary: str,
    ok: dict[int, tuple[Any, str]],
    *,
    errors: tuple[str, ...] = (),
    json: Any = None,
    query: Any = None,
    public: bool = False,
    description: str = "",
    download: str | tuple[str, ...] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document a route: its summary (and a longer ``description``), its request body
    (``json``) or query model, its answers by status (``ok``: status -> (model,
    description)), the error statuses it may answer besides those any route may
    (``errors``), and whether it needs no token (``public``). A route answering a file
    names its media type, or the types it may answer (``download``), and gives None as its
    200 model."""
    if download is not None:
        _DOWNLOADS[summary] = (download,) if isinstance(download, str) else download
    statuses = {code: (Error, ERROR_TEXT[code]) for code in (*ALWAYS, *errors)}
    if json is not None:
        statuses["415"] = (Error, ERROR_TEXT["415"])
    statuses.update({str(code): answer for code, answer in ok.items()})
    answers = Answers(**{f"HTTP_{code}": answer for code, answer in statuses.items()})
    declare = SPEC.validate(
        json=json,
        query=query,
        resp=answers,
        security=[] if public else BEARER,
        skip_validation=True,
    )

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        documented = declare(view)
        # spectree reads the summary and description off the docstring
        documented.__doc__ = f"{summary}\n\n{description}" if description else summary
        return documented

    return decorate


def _error(code: str) -> dict[str, Any]:
    return {
        "description": ERROR_TEXT[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _generated() -> dict[str, Any]:
    """spectree's document of the declared routes, read off a scratch app holding the
    blueprint (the document does not depend on any app's settings)."""
    app = Flask(__name__)
    app.url_map.converters["id"] = IdConverter
    app.register_blueprint(bp)
    with app.app_context():
        return copy.deepcopy(SPEC.spec)


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without pydantic's title, null default and null branch (an
    absent or empty parameter is the absent value)."""
    schema = {k: v for k, v in schema.items() if k != "title" and (k, v) != ("default", None)}
    branches = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    return schema


def _tidy(operation_doc: dict[str, Any]) -> None:
    for param in operation_doc.get("parameters", []):
        if param["in"] == "path" and param.get("schema") is None:  # our ``id`` converter
            param["schema"] = dict(ID)
        elif param["in"] == "query":
            param["schema"] = _query_schema(param["schema"])
            if not param.get("required"):  # ?name= is taken as leaving it out
                param["allowEmptyValue"] = True
        if not param.get("description"):
            param.pop("description", None)
    for status, answer in operation_doc["responses"].items():
        if status == "503" and "$ref" not in answer:
            answer["headers"] = copy.deepcopy(RETRY_AFTER)
    for key in ("tags", "description"):
        if not operation_doc.get(key):
            operation_doc.pop(key, None)


_BUILDING = threading.Lock()  # two first requests at once build it once


def _document() -> dict[str, Any]:
    with _BUILDING:
        return _built()


@functools.cache
def _built() -> dict[str, Any]:
    importlib.import_module("api.v1")
    for name in MODULES:
        importlib.import_module(name)
    doc = _generated()
    schemas = doc["components"]["schemas"]
    for operations in doc["paths"].values():
        for operation_doc in operations.values():
            _tidy(operation_doc)
            media = _DOWNLOADS.get(operation_doc.get("summary", ""), ())
            if media:
                operation_doc["responses"]["200"]["content"] = {
                    kind: {"schema": dict(BINARY)} for kind in media
                }
            body = operation_doc.get("requestBody")
            if body:  # a body with no fields may be left out
                name = body["content"]["application/json"]["schema"]["$ref"].rpartition("/")[2]
                body["required"] = bool(schemas[name].get("properties"))
    doc["servers"] = [{"url": "/"}]
    doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for key in ("tags", "security"):
        if not doc.get(key):
            doc.pop(key, None)
    for operations in doc["paths"].values():
        for method, operation_doc in operations.items():
            if method in ("post", "put", "patch"):  # any body may come as something not JSON
                operation_doc["responses"].setdefault("415", _error("415"))
    return doc


def document() -> dict[str, Any]:
    """Return a copy of the OpenAPI document."""
    return copy.deepcopy(_document())


@functools.cache
def _public_operations() -> frozenset[tuple[str, str]]:
    """(path template, method) of the operations the OpenAPI document opens to anyone."""
    return frozenset(
        (path, method)
        for path, operations in _document()["paths"].items()
        for method, operation_doc in operations.items()
        if operation_doc.get("security") == []
    )


@bp.before_request
def _guard() -> None:
    """Who before what: a route that needs a token answers 401 without a valid one before any
    of its input is judged; then a path id out of range answers 400 naming the parameter."""
    rule = request.url_rule
    if rule is None or request.method == "OPTIONS":
        return
    template = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
    method = "get" if request.method == "HEAD" else request.method.lower()
    if (template, method) not in _public_operations():
        session()
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 < value <= INT_MAX:
            raise invalid(name, f"应为 1 到 {INT_MAX} 之间的整数。")
