"""The one cursor codec: what it encodes comes back unchanged, and anything it did not make is refused by name."""

from __future__ import annotations

import base64

import pytest

from domain.cursors import decode_cursor, decode_id_cursor, encode_cursor, encode_id_cursor
from domain.errors import InvalidCursor


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_cursor_carries_its_body_back_unchanged_and_unpadded() -> None:
    body = {"f": "abc", "k": "2026-05-04T09:00:00+00:00", "i": 7}
    cursor = encode_cursor(body)
    assert "=" not in cursor
    assert decode_cursor(cursor) == body


def test_an_id_cursor_continues_below_the_id_it_was_made_from() -> None:
    assert decode_id_cursor(encode_id_cursor(41)) == 41


@pytest.mark.parametrize(
    "cursor",
    ["", "nonsense", "!!!", _raw("[1, 2]"), _raw('"text"'), _raw("\xff not json"), _raw("id:5")],
    ids=["empty", "garbage", "not-base64", "a-list", "a-string", "not-json", "old-format"],
)
def test_a_cursor_the_codec_did_not_make_is_refused_with_the_message_given(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as err:
        decode_cursor(cursor, "pass back next_cursor")
    assert err.value.field == "cursor" and err.value.message == "pass back next_cursor"


@pytest.mark.parametrize("body", [{}, {"i": "5"}, {"i": True}, {"i": 0}, {"i": -3}, {"i": 2**63}, {"i": 1.5}])
def test_an_id_cursor_without_a_valid_id_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(InvalidCursor) as err:
        decode_id_cursor(encode_cursor(body))
    assert err.value.field == "cursor" and "next_cursor" in err.value.message
