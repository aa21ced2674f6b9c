"""The account timezone over REST: a typo is a 422 naming `timezone` with a guess; any case is stored canonical."""

from __future__ import annotations

from tests.api.conftest import assert_problem


async def test_a_timezone_typo_is_a_problem_naming_timezone_with_a_suggestion(client, alice):
    response = await client.patch("/api/v1/me", json={"timezone": "Europe/Berln"}, headers=alice.headers)
    body = assert_problem(response, 422, "timezone")
    assert "did you mean 'Europe/Berlin'?" in str(body["detail"])
    assert (await client.get("/api/v1/me", headers=alice.headers)).json()["timezone"] == "Europe/Berlin"


async def test_an_abbreviation_is_refused_with_a_place_to_use(client, alice):
    body = assert_problem(await client.patch("/api/v1/me", json={"timezone": "EST"}, headers=alice.headers),
                          422, "timezone")
    assert "'America/New_York'" in str(body["detail"])


async def test_a_timezone_in_any_case_is_stored_canonical(client, alice):
    response = await client.patch("/api/v1/me", json={"timezone": "america/new_york"}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["timezone"] == "America/New_York"
