"""Building blocks for the OpenAPI fragments each /api/v1 module exports (SCHEMAS, PATHS)."""

from __future__ import annotations

from typing import Any

ISO_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$"
ISO_DAY = r"^\d{4}-\d{2}-\d{2}$"
ISO_MONTH = r"^\d{4}-\d{2}$"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A closed object: every property required unless ``required`` says otherwise."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def array(items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **extra}


def page_of(item: str) -> dict[str, Any]:
    """The answer of a paginated list (see api.common.paginate)."""
    return obj(
        {
            "items": array(ref(item)),
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "offset": {"type": "integer", "minimum": 0},
        }
    )


STR = {"type": "string"}
INT = {"type": "integer"}
ID = {"type": "integer", "minimum": 1}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time", "pattern": ISO_TIME}
DAY = {"type": "string", "format": "date", "pattern": ISO_DAY}
MONTH = {"type": "string", "pattern": ISO_MONTH}
FEN = {"type": "integer", "description": "Amount in fen (分)."}
# A request time: ISO 8601 with an offset (answers always use +08:00).
TIME_IN = {"type": "string", "format": "date-time"}

BEARER = [{"bearer": []}]


def errors(*codes: str) -> dict[str, Any]:
    """References to the shared error answers; 404, 405, 413, 500 and 503 are always possible
    (api/openapi.py adds 415 to every operation that takes a body)."""
    return {
        code: {"$ref": f"#/components/responses/E{code}"}
        for code in ("404", "405", "413", "500", "503", *codes)
    }


def ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": ref(schema)}}}


def param(
    name: str,
    schema: dict[str, Any],
    *,
    where: str = "query",
    required: bool = False,
    description: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": where, "required": required, "schema": schema}
    if description:
        out["description"] = description
    return out


def path_id(name: str) -> dict[str, Any]:
    return param(name, ID, where="path", required=True)


PAGE_PARAMS = [
    param("limit", {"type": "integer", "minimum": 1, "maximum": 100}, description="default 20"),
    param("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000}),
]
BRANCH_PARAM = param(
    "branch_id",
    ID,
    description="Committee admins: the branch to act for (default: the caller's own).",
)
