"""reconciler.oauth's foundation: endpoints (catalog + provider_overrides), the OAuth app, token sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.catalog import load_catalog
from reconciler.errors import OAuthError, SecretError
from reconciler.oauth.clients import oauth_app
from reconciler.oauth.endpoints import api_url, health_check_url, oauth_endpoints
from reconciler.oauth.tokens import from_oauth2_response, missing_scopes, parse_scopes
from reconciler.workspace import Settings, load_workspace

CANARY = "canary-oauth-secret-7f3a"


def _settings(**data: object) -> Settings:
    return Settings.model_validate(data)


def test_the_catalog_endpoints_are_the_default() -> None:
    catalog = load_catalog()
    method = catalog.method("pinterest", "oauth")
    assert method is not None
    found = oauth_endpoints(_settings(), "pinterest", method)
    assert found.authorization_url == "https://www.pinterest.com/oauth/"
    assert found.token_url == "https://api.pinterest.com/v5/oauth/token"
    assert found.scopes == ("ads:read", "ads:write") and found.scope_separator == ","
    assert not found.overridden


def test_overrides_replace_each_endpoint_and_rebase_api_calls() -> None:
    catalog = load_catalog()
    method = catalog.method("pinterest", "oauth")
    assert method is not None and method.health_check is not None
    settings = _settings(provider_overrides={"pinterest": {
        "authorization_url": "http://127.0.0.1:9/oauth/authorize", "token_url": "http://127.0.0.1:9/oauth/token",
        "api_base_url": "http://127.0.0.1:9/pin"}})
    found = oauth_endpoints(settings, "pinterest", method)
    assert (found.authorization_url, found.token_url) == ("http://127.0.0.1:9/oauth/authorize",
                                                          "http://127.0.0.1:9/oauth/token")
    assert found.overridden and found.revocation_url is None  # not overridden: the catalog's (none)
    assert health_check_url(settings, "pinterest", method.health_check) == "http://127.0.0.1:9/pin/v5/user_account"
    assert api_url(settings, "pinterest", "https://api.pinterest.com/v5/x?test=true") == \
        "http://127.0.0.1:9/pin/v5/x?test=true"
    assert api_url(settings, "facebook", "https://graph.facebook.com/me") == "https://graph.facebook.com/me"


def test_an_authorize_url_may_carry_a_query() -> None:
    settings = _settings(provider_overrides={"x": {"authorization_url": " https://a.example/auth?app_id=7 "}})
    assert settings.provider_overrides["x"].authorization_url == "https://a.example/auth?app_id=7"


def test_a_method_that_is_not_oauth_has_no_endpoints() -> None:
    catalog = load_catalog()
    method = catalog.method("pinterest", "capi_token")
    assert method is not None
    with pytest.raises(OAuthError, match="is not an OAuth method"):
        oauth_endpoints(_settings(), "pinterest", method)


@pytest.mark.parametrize("url", ["http://example.com/token", "ftp://127.0.0.1/x", "http://u:p@127.0.0.1/x",
                                 "https://a.example/auth?x=1#part", "https://a.example/auth#part"])
def test_override_urls_are_checked_like_the_api_url(url: str) -> None:
    with pytest.raises(ValueError):
        _settings(provider_overrides={"x": {"token_url": url}})


def test_a_literal_client_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError) as caught:
        _settings(oauth_clients={"x": {"client_id": "id", "client_secret": CANARY}})
    assert "never the secret itself" in str(caught.value)


def _workspace(tmp_path: Path, settings: str) -> Path:
    (tmp_path / "authctl.yaml").write_text(settings, encoding="utf-8")
    return tmp_path


def test_the_oauth_app_reads_its_secret_from_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _workspace(tmp_path, "oauth_clients:\n  pinterest: {client_id: app-1, client_secret: {env: PIN_SECRET}}\n")
    monkeypatch.setenv("PIN_SECRET", CANARY)
    app = oauth_app(load_workspace(root), "pinterest")
    assert app.client_id == "app-1" and app.client_secret is not None and app.client_secret.reveal() == CANARY
    assert CANARY not in repr(app)


def test_a_missing_app_says_exactly_what_to_add(tmp_path: Path) -> None:
    root = _workspace(tmp_path, "name: ws\n")
    with pytest.raises(OAuthError) as caught:
        oauth_app(load_workspace(root), "amazon_ads")
    assert "oauth_clients:\n    amazon_ads:\n      client_id: YOUR_CLIENT_ID\n" \
           "      client_secret: {env: AMAZON_ADS_CLIENT_SECRET}" in caught.value.message


def test_an_unset_secret_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _workspace(tmp_path, "oauth_clients:\n  pinterest: {client_id: a, client_secret: {env: PIN_UNSET}}\n")
    monkeypatch.delenv("PIN_UNSET", raising=False)
    with pytest.raises(SecretError, match=r"oauth_clients\.pinterest\.client_secret: .*PIN_UNSET"):
        oauth_app(load_workspace(root), "pinterest")


def test_a_token_response_becomes_credentials_expiry_and_scopes() -> None:
    tokens = from_oauth2_response({"access_token": CANARY, "refresh_token": "r1", "token_type": "Bearer",
                                   "expires_in": 3600, "scope": "ads:read,ads:write"}, separator=",", now=1_000_000)
    assert tokens.credentials == {"access_token": CANARY, "refresh_token": "r1", "token_type": "Bearer"}
    assert tokens.expires_at == datetime.fromtimestamp(1_003_600, UTC)
    assert tokens.scopes == ("ads:read", "ads:write")
    assert CANARY not in repr(tokens)
    assert tokens.expires_within(3601, now=datetime.fromtimestamp(1_000_000, UTC))
    assert not tokens.expires_within(3599, now=datetime.fromtimestamp(1_000_000, UTC))


def test_a_refresh_without_rotation_keeps_the_refresh_token_and_no_scope_means_as_requested() -> None:
    tokens = from_oauth2_response({"access_token": "a2"}, requested=("x", "y"), previous_refresh_token="r1")
    assert tokens.refresh_token == "r1" and tokens.scopes == ("x", "y") and tokens.expires_at is None
    with pytest.raises(OAuthError, match="without an access_token"):
        from_oauth2_response({"token_type": "Bearer"})


def test_scopes_parse_and_diff() -> None:
    assert parse_scopes("a b  a") == ("a", "b")
    assert parse_scopes(["a", "b"]) == ("a", "b") and parse_scopes(None) == ()
    # a comma-separated provider echoing the requested string back as one list item (the demo's Pinterest)
    assert parse_scopes(["ads:read,ads:write"], ",") == ("ads:read", "ads:write")
    assert parse_scopes("ads:read,ads:write", ",") == ("ads:read", "ads:write")
    assert missing_scopes(["ads_management", "business_management"], ("business_management",)) == ("ads_management",)
