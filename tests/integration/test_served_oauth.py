"""The served platform's OAuth token hand-off (reconciler/served/oauth_handlers.py), over real HTTP.

``GET|POST /v2/_authctl/oauth/{provider}/{method}`` and ``PUT /v2/_authctl/auth/{id}/tokens``:
what ``authctl login`` / ``reauth`` use over the lytics backend. The tokens are write-only:
no answer (success, refusal, list) ever carries one, and a refusal names the field, never
the value. The generic ``POST /v2/auth/{type}`` still refuses tokens in config.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from served_support import Served, serve_platform

TOKEN = "served-oauth-token-77a1"
CANARY = "canary-oauth-access-token-4c2d"
CANARY_REFRESH = "canary-oauth-refresh-token-9e8f"
SETTINGS = "name: served-oauth\nbackend: {kind: local, path: .authctl/platform.db}\nstate: {url: .authctl/state.db}\n"
PIN = "/v2/_authctl/oauth/pinterest/oauth"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served-oauth")
    (root / "authctl.yaml").write_text(SETTINGS, encoding="utf-8")
    with serve_platform(Path(root), token=TOKEN) as running:
        yield running


def grant(label: str, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {"label": label, "description": "audiences\n\nmanaged by authctl (marker authctl-m1)",
                               "credentials": {"access_token": CANARY, "refresh_token": CANARY_REFRESH,
                                               "token_type": "Bearer"},
                               "scopes": ["ads:read", "ads:write"], "token_expires_at": "2030-01-02T03:04:05Z"}
    body.update(extra)
    return body


def test_the_method_check_tells_oauth_methods_apart(served: Served) -> None:
    with served.client() as client:
        answer = client.get(PIN)
        assert answer.status_code == 200
        assert answer.json()["data"] == {"provider": "pinterest", "method": "oauth", "type": "authctl-pinterest-oauth",
                                         "kind": "oauth2", "scopes": ["ads:read", "ads:write"]}
        for path in ("/v2/_authctl/oauth/pinterest/capi_token", "/v2/_authctl/oauth/nope/oauth"):
            refused = client.get(path)
            assert refused.status_code == 404 and refused.json()["errors"][0]["code"] == "AUTHTYPE-NOTFOUND-007"
        x = client.get("/v2/_authctl/oauth/x/oauth1").json()["data"]
        assert (x["type"], x["kind"]) == ("twitter-oauth1-0a", "oauth1")


def test_create_then_reauthorize_in_place_never_answers_a_token(served: Served) -> None:
    with served.client() as client:
        created = client.post(PIN, json=grant("Pinterest (served)"))
        assert created.status_code == 201, created.text
        data = created.json()["data"]
        auth_id = data["id"]
        assert (data["type"], data["scopes"], data["token_expires_at"]) == (
            "authctl-pinterest-oauth", ["ads:read", "ads:write"], "2030-01-02T03:04:05Z")
        assert data["description"].endswith("managed by authctl (marker authctl-m1)")
        health = client.put(f"/v2/_authctl/auth/{auth_id}/health", json={"status": "unhealthy", "reason": "revoked"})
        assert health.json()["data"]["status"] == "unhealthy"
        renewed = client.put(f"/v2/_authctl/auth/{auth_id}/tokens",
                             json={"credentials": {"access_token": CANARY + "-2", "refresh_token": CANARY_REFRESH + "-2"},
                                   "scopes": ["ads:read"], "token_expires_at": "2031-01-01T00:00:00+00:00"})
        assert renewed.status_code == 200, renewed.text
        again = renewed.json()["data"]
        assert (again["id"], again["status"], again["scopes"]) == (auth_id, "healthy", ["ads:read"])
        listed = client.get("/v2/auth")
        one = client.get(f"/v2/auth/authctl-pinterest-oauth/{auth_id}")
        for answer in (created, renewed, listed, one, health):
            assert CANARY not in answer.text and CANARY_REFRESH not in answer.text
        stdout, stderr = served.output()
        assert CANARY not in stdout + stderr


def test_refusals_name_the_field_never_the_value(served: Served) -> None:
    with served.client() as client:
        cases = [
            (PIN, grant("Wrong field", credentials={"password": CANARY}), "credentials.password: not a token field"),
            (PIN, grant("No access", credentials={"refresh_token": CANARY}), "credentials.access_token: required"),
            (PIN, grant("Blank", credentials={"access_token": "  "}), "credentials.access_token: must not be blank"),
            (PIN, grant("Config", config={"token": CANARY}), "config.token"),
            (PIN, grant("Scopes", scopes=["ads read"]), "scopes.0: must be 1 to 255 characters without spaces"),
            (PIN, grant("Year", token_expires_at="0001-01-01T00:00:00Z"), "token_expires_at: must be between"),
            (PIN, grant("   "), "label: must not be blank"),
            ("/v2/_authctl/oauth/x/oauth1", grant("X", credentials={"oauth_token": CANARY}),
             "credentials.oauth_token_secret: required"),
        ]
        for path, body, expected in cases:
            answer = client.post(path, json=body)
            assert answer.status_code == 400, (expected, answer.text)
            message = answer.json()["errors"][0]["message"]
            assert expected in message and CANARY not in answer.text, message
        taken = client.post(PIN, json=grant("Taken label"))
        assert taken.status_code == 201
        clash = client.post(PIN, json=grant("taken LABEL"))
        assert clash.status_code == 409 and CANARY not in clash.text
        missing = client.put("/v2/_authctl/auth/nope/tokens", json={"credentials": {"access_token": CANARY}})
        assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "AUTH-NOTFOUND-006"
        capi = client.post("/v2/auth/pinterest-capi-token", json={"label": "CAPI", "config": {
            "account_id": "549755885175", "token": CANARY}})
        assert capi.status_code == 201
        not_oauth = client.put(f"/v2/_authctl/auth/{capi.json()['data']['id']}/tokens",
                               json={"credentials": {"access_token": CANARY}})
        assert not_oauth.status_code == 400 and "is not an OAuth connection" in not_oauth.text
        tokens_in_config = client.post("/v2/auth/authctl-pinterest-oauth", json={"label": "Sneaky", "config": {
            "access_token": CANARY}})
        assert tokens_in_config.status_code == 400 and CANARY not in tokens_in_config.text


def test_the_openapi_document_describes_the_hand_off(served: Served) -> None:
    with served.client() as client:
        document = client.get("/openapi.json").json()
    create = document["paths"]["/v2/_authctl/oauth/{provider}/{method}"]["post"]
    assert create["x-authctl-extension"] is True and set(create["responses"]) >= {"201", "400", "404", "409"}
    assert "credentials" in document["components"]["schemas"]["OAuthGrantIn"]["properties"]
    assert "credentials" not in document["components"]["schemas"]["AuthOut"]["properties"]
    assert document["paths"]["/v2/_authctl/auth/{id}/tokens"]["put"]["operationId"] == "replaceOAuthTokens"
