"""Opaque page cursors: one codec (a JSON object in unpadded URL-safe base64) for every paged list, so the task
queries and the services' keyset lists cannot drift apart."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from domain.errors import InvalidCursor
from domain.values import valid_id

_BAD_ID_CURSOR = "cursor is not valid: pass back next_cursor unchanged"


def encode_cursor(body: dict[str, Any]) -> str:
    """The opaque cursor carrying `body` (JSON-serialisable)."""
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, message: str = _BAD_ID_CURSOR) -> dict[str, Any]:
    """The body of a cursor made by encode_cursor, or InvalidCursor (with `message`) for anything else."""
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        raise InvalidCursor(message, field="cursor")
    return body


def encode_id_cursor(last_id: int) -> str:
    """The cursor of the page after the row `last_id`, for lists in descending id order."""
    return encode_cursor({"i": last_id})


def decode_id_cursor(cursor: str) -> int:
    """The id a cursor made by encode_id_cursor continues below, or InvalidCursor."""
    value = decode_cursor(cursor).get("i")
    if not isinstance(value, int) or isinstance(value, bool) or not valid_id(value):
        raise InvalidCursor(_BAD_ID_CURSOR, field="cursor")
    return value
