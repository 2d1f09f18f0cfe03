"""The OpenAPI 3.1 contract of /api/v1, served at /api/v1/openapi.json and checked by tests."""

from __future__ import annotations

import copy
import importlib
from typing import Any

from api.spec import BEARER, BOOL, DAY, INT, STR, TIME
from api.spec import errors as _errors
from api.spec import json_body as _body
from api.spec import obj as _obj
from api.spec import ok as _ok
from api.spec import ref as _ref

# Route modules whose SCHEMAS and PATHS join the document (each registers views on the
# blueprint in api.common).
MODULES: tuple[str, ...] = ("api.meetings", "api.dues", "api.branch")

SCHEMAS: dict[str, Any] = {
    "Error": {
        **_obj(
            {
                "errcode": {
                    "type": "string",
                    "pattern": "^[a-z_]+$",
                    "description": "Stable code of the kind of error, for programs.",
                },
                "errmsg": {"type": "string", "minLength": 1, "description": "中文说明，给用户看"},
            }
        ),
        "description": "Every error under /api/v1 has this shape.",
    },
    "Role": _obj({"code": STR, "label": STR}),
    "Branch": _obj({"id": INT, "name": STR}),
    "Member": _obj(
        {
            "id": INT,
            "name": STR,
            "phone": {"type": "string", "description": "Masked: 138****5678."},
            "status": STR,
            "status_label": STR,
            "branch": _ref("Branch"),
            "roles": {"type": "array", "items": _ref("Role")},
        }
    ),
    "Topic": _obj(
        {
            "id": INT,
            "day": DAY,
            "title": STR,
            "content": STR,
            "url": STR,
        }
    ),
    "Checkin": _obj(
        {
            "id": INT,
            "day": DAY,
            "topic_id": {"type": ["integer", "null"]},
            "reflection": STR,
            "source": {"type": "string", "enum": ["bot", "api"]},
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "Week": _obj(
        {
            "week_start": DAY,
            "days_checked": {
                "type": "array",
                "items": BOOL,
                "minItems": 7,
                "maxItems": 7,
                "description": "Monday to Sunday.",
            },
            "days_count": {"type": "integer", "minimum": 0, "maximum": 7},
            "streak": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
        }
    ),
    "LoginRequest": _obj({"code": {"type": "string", "minLength": 1, "maxLength": 128}}),
    "LoginResponse": _obj(
        {
            "token": {"type": "string", "minLength": 1},
            "expires_at": TIME,
            "bound": BOOL,
            "member": _ref("Member"),
        },
        ["token", "expires_at", "bound"],
    ),
    "BindRequest": _obj({"code": {"type": "string", "minLength": 1, "maxLength": 64}}),
    "BindResponse": _obj({"bound": {"const": True}, "member": _ref("Member")}),
    "StudyToday": _obj(
        {
            "day": DAY,
            "topic": {"oneOf": [_ref("Topic"), {"type": "null"}]},
            "checked_in": BOOL,
        }
    ),
    "CheckinRequest": _obj({"reflection": {"type": "string"}}, []),
    "CheckinResponse": _obj(
        {
            "created": BOOL,
            "checkin": _ref("Checkin"),
            "topic": {"oneOf": [_ref("Topic"), {"type": "null"}]},
            "week": _ref("Week"),
        }
    ),
    "StudyMe": _obj(
        {
            "week": _ref("Week"),
            "recent": {"type": "array", "items": _ref("Checkin"), "maxItems": 30},
        }
    ),
}

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


PATHS: dict[str, Any] = {
    "/api/v1/login": {
        "post": {
            "summary": "Exchange a wx.login code (jscode2session) for a session token",
            "security": [],
            "requestBody": _body("LoginRequest"),
            "responses": {
                "200": _ok("LoginResponse", "Logged in; bound says whether a member is linked"),
                **_errors("400", "403", "429", "502"),
            },
        }
    },
    "/api/v1/bind": {
        "post": {
            "summary": "Bind the account with a secretary's one-time code",
            "security": BEARER,
            "requestBody": _body("BindRequest"),
            "responses": {
                "200": _ok("BindResponse", "Bound"),
                **_errors("400", "401", "409", "429"),
            },
        }
    },
    "/api/v1/me": {
        "get": {
            "summary": "My profile, branch and roles",
            "security": BEARER,
            "responses": {"200": _ok("Member", "The member"), **_errors("401", "403")},
        }
    },
    "/api/v1/study/today": {
        "get": {
            "summary": "Today's study topic and whether I checked in",
            "security": BEARER,
            "responses": {"200": _ok("StudyToday", "Today"), **_errors("401", "403")},
        }
    },
    "/api/v1/study/checkins": {
        "post": {
            "summary": "Check in for today with an optional reflection (a repeat updates it)",
            "security": BEARER,
            "requestBody": _body("CheckinRequest"),
            "responses": {
                "201": _ok("CheckinResponse", "Checked in"),
                "200": _ok("CheckinResponse", "Already checked in today; reflection updated"),
                **_errors("400", "401", "403"),
            },
        }
    },
    "/api/v1/study/me": {
        "get": {
            "summary": "My week, streak, total and recent check-ins",
            "security": BEARER,
            "responses": {"200": _ok("StudyMe", "My study"), **_errors("401", "403")},
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **_errors(),
            },
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "zhibu mini-program API",
        "version": "1",
        "description": (
            "Times are ISO 8601 with +08:00; days are YYYY-MM-DD. Every error is "
            '{"errcode": "<stable code>", "errmsg": "<中文说明>"}. Unknown body fields are '
            "refused. Send the login token as `Authorization: Bearer <token>`: a route that "
            "needs it answers 401 before it looks at anything else. Bodies are JSON (415 "
            "otherwise), nested at most api.max_json_depth deep; text takes no control "
            "characters (multi-line fields keep line breaks) and no lone surrogates; integers "
            "and ids are at most 2147483647; times, days and months fall within "
            "api.earliest_year..api.latest_year. A busy database answers 503 with Retry-After."
        ),
    },
    "servers": [{"url": "/"}],
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "responses": {
            f"E{code}": {
                "description": text,
                "content": {"application/json": {"schema": _ref("Error")}},
                **(
                    {
                        "headers": {
                            "Retry-After": {
                                "description": "Seconds to wait (api.busy_retry_after_seconds)",
                                "required": True,
                                "schema": {"type": "integer", "minimum": 1},
                            }
                        }
                    }
                    if code == "503"
                    else {}
                ),
            }
            for code, text in ERROR_TEXT.items()
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}


def _merge() -> None:
    for name in MODULES:
        module = importlib.import_module(name)
        for kind, mine, theirs in (
            ("schema", SCHEMAS, module.SCHEMAS),
            ("path", PATHS, module.PATHS),
        ):
            clash = set(mine) & set(theirs)
            if clash:
                raise RuntimeError(f"{name} redefines {kind}s {sorted(clash)}")
            mine.update(theirs)


def _bodies_may_be_415() -> None:
    """Any body may come with a Content-Type that is not JSON: 415 on every such method."""
    for operations in PATHS.values():
        for method, operation in operations.items():
            if method in ("post", "put", "patch"):
                operation["responses"].setdefault("415", {"$ref": "#/components/responses/E415"})


_merge()
_bodies_may_be_415()


def document() -> dict[str, Any]:
    """Return a copy of the OpenAPI document."""
    return copy.deepcopy(DOCUMENT)
