"""/api/v1 routes: meetings (placeholder until its routes land)."""

from __future__ import annotations

from typing import Any

SCHEMAS: dict[str, Any] = {}
PATHS: dict[str, Any] = {}
