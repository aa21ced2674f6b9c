"""Opaque keyset cursors over descending ids, shared by the services' lists."""

from __future__ import annotations

import base64
import binascii

from domain.errors import InvalidCursor
from domain.values import valid_id


def encode_cursor(last_id: int) -> str:
    """The cursor of the page after the row `last_id`."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor continues below, or InvalidCursor."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        value = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value, prefix = 0, ""
    if prefix != "id" or not valid_id(value):
        raise InvalidCursor("cursor is not valid: pass back next_cursor unchanged", field="cursor")
    return value
