"""The OpenAPI 3.1 contract of /api/v1, served at /api/v1/openapi.json and checked by tests."""

from __future__ import annotations

import copy
from typing import Any

ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$"
ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time", "pattern": ISO_TIME}
DAY = {"type": "string", "format": "date", "pattern": ISO_DAY}

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
    "404": "No such route",
    "405": "Method not allowed",
    "409": "Conflict (e.g. already bound)",
    "413": "Body over app.max_body_bytes",
    "429": "Rate limited",
    "500": "Unexpected failure (generic message, logged)",
    "502": "WeChat unavailable",
}


def _errors(*codes: str) -> dict[str, Any]:
    return {
        code: {"$ref": f"#/components/responses/E{code}"}
        for code in ("404", "405", "413", "500", *codes)
    }


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


BEARER = [{"bearer": []}]

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
            "refused. Send the login token as `Authorization: Bearer <token>`."
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
            }
            for code, text in ERROR_TEXT.items()
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
}


def document() -> dict[str, Any]:
    """Return a copy of the OpenAPI document."""
    return copy.deepcopy(DOCUMENT)
