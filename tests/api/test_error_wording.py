"""REST validation errors: `detail` is a sentence naming the field; status, type URI, `field` and the per-field
`errors` list stay machine-readable."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import User, assert_problem

T = "/api/v1/tasks"
VALIDATION = "https://todo-agent.dev/problems/validation_error"


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "rule", "detail"),
    [
        ("POST", T, {}, "title", "missing", "title is required."),
        ("POST", T, {"title": 5}, "title", "string_type", "title must be a string (got 5)."),
        ("POST", T, {"title": "x", "priority": 5}, "priority", "enum",
         "priority must be one of none, low, medium, high, urgent (got 5)."),
        ("POST", T, {"title": "x", "recurrence": {"rule": "daily", "mode": "never"}}, "recurrence.mode",
         "literal_error", "recurrence.mode must be one of due, completion (got 'never')."),
        ("POST", T, {"title": "x", "recurrence": {"rule": "x" * 201}}, "recurrence.rule", "string_too_long",
         "recurrence.rule must have at most 200 characters (got 201)."),
        ("POST", T, {"title": "x", "colour": "red"}, "colour", "extra_forbidden",
         "colour is not a field here; leave it out."),
        ("POST", T, {"title": "x", "tags": "home"}, "tags", "list_type",
         "tags must be a list even for one value, e.g. ['home'] (got 'home')."),
        ("POST", T, {"title": "x", "tags": [1, 2]}, "tags", "string_type",
         "tags[0] must be a string (got 1). tags[1] must be a string (got 2)."),
        ("GET", f"{T}?limit=500", None, "limit", "less_than_equal",
         "limit must be less than or equal to 100 (got '500')."),
        ("GET", f"{T}?status=gone", None, "status", "enum",
         "status[0] must be one of open, completed, deleted (got 'gone')."),
        ("GET", f"{T}/abc", None, "task_id", "int_parsing", "task_id must be an integer (got 'abc')."),
        ("POST", f"{T}/bulk", {"action": "explode", "ids": [1]}, "action", "literal_error",
         "action must be one of complete, delete, set_priority, add_tags (got 'explode')."),
        ("POST", T, [1], "body", "model_attributes_type", "the request body must be an object (got [1])."),
        ("POST", T, {"title": "x", "due_at": 5}, "due_at", "string_type", "due_at must be a string (got 5)."),
    ],
)
async def test_a_validation_error_names_the_field_in_a_sentence(
    client: httpx.AsyncClient, alice: User, method: str, path: str, body: Any, field: str, rule: str, detail: str
):
    problem = assert_problem(await client.request(method, path, json=body, headers=alice.headers), 422, field)
    assert problem["detail"] == detail
    assert problem["type"] == VALIDATION and problem["title"] == "Invalid request"
    errors = problem["errors"]
    assert isinstance(errors, list) and errors[0]["field"] == field and errors[0]["rule"] == rule
    assert errors[0]["message"], "each entry keeps pydantic's own message for programs"


async def test_a_body_that_is_not_json_says_so(client: httpx.AsyncClient, alice: User):
    headers = {**alice.headers, "Content-Type": "application/json"}
    problem = assert_problem(await client.post(T, content=b"{not json", headers=headers), 422, "body")
    assert str(problem["detail"]).startswith("the request body is not valid JSON (")


async def test_many_bad_items_are_summed_up_after_three_sentences(client: httpx.AsyncClient, alice: User):
    problem = assert_problem(await client.post(T, json={"title": "x", "tags": list(range(10))},
                                               headers=alice.headers), 422, "tags")
    assert problem["detail"] == ("tags[0] must be a string (got 0). tags[1] must be a string (got 1). "
                                 "tags[2] must be a string (got 2). (7 more like these.)")
    assert isinstance(problem["errors"], list) and len(problem["errors"]) == 10
