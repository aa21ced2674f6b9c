"""MCP tool input schemas to Cohere tools: `$ref`s inlined, `$defs` and titles dropped, null-`anyOf` collapsed."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
DROPPED = {"title", "$defs", "definitions", "$schema"}


def cohere_tool(name: str, description: str | None, input_schema: Schema) -> Schema:
    """A Cohere v2 tool definition for one MCP tool."""
    parameters = plain_schema(input_schema) or {"type": "object", "properties": {}}
    return {"type": "function", "function": {"name": name, "description": description or "", "parameters": parameters}}


def plain_schema(schema: Schema) -> Schema:
    """The schema with every local `$ref` inlined and no `$defs`, titles or `{"type": "null"}` alternatives."""
    defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    return _clean(schema, defs, ())


def _clean(node: Schema, defs: Schema, seen: tuple[str, ...]) -> Schema:
    if "$ref" in node:
        return _inline(node, defs, seen)
    out: Schema = {}
    for key, value in node.items():
        if key in DROPPED:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _clean(sub, defs, seen) for name, sub in value.items()}
        elif key in SUBSCHEMA_LISTS and isinstance(value, list):
            out[key] = [_clean(sub, defs, seen) for sub in value if isinstance(sub, dict)]
        elif key in SUBSCHEMA_KEYS and isinstance(value, dict):
            out[key] = _clean(value, defs, seen)
        else:
            out[key] = value
    return _without_null(out)


def _inline(node: Schema, defs: Schema, seen: tuple[str, ...]) -> Schema:
    ref = str(node["$ref"])
    name = ref.rsplit("/", 1)[-1]
    if ref in seen or name not in defs:
        target: Schema = {}  # recursive or unknown: any value rather than a dangling reference
    else:
        target = _clean(defs[name], defs, (*seen, ref))
    siblings = _clean({k: v for k, v in node.items() if k != "$ref"}, defs, seen)
    return {**target, **siblings}  # a description next to the $ref wins over the definition's


def _without_null(node: Schema) -> Schema:
    """Drop null alternatives: `anyOf: [X, null]` becomes X (keeping this node's description and default)."""
    kind = node.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [t for t in kind if t != "null"]
        node["type"] = rest[0] if len(rest) == 1 else rest
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o != {"type": "null"}]
            node = {k: v for k, v in node.items() if k != key}
            if len(options) == 1:
                node = {**options[0], **node}
            elif options:
                node[key] = options
    if len(node.get("allOf", [])) == 1:
        (only,) = node.pop("allOf")
        node = {**only, **node}
    if "default" in node and node["default"] is None:
        del node["default"]
    return node
