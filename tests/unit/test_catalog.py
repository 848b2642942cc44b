"""The provider catalog: built-in contents other code relies on, and broken catalog files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.catalog import Catalog, MethodKind, builtin_providers_dir, load_catalog
from reconciler.suggestions import did_you_mean
from reconciler.errors import CatalogError


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# provider, method, kind, Lytics type (None: made in the UI only)
REQUIRED_METHODS = [
    ("facebook", "system_user", MethodKind.TOKEN, "fb-system-user"),
    ("facebook", "user_oauth", MethodKind.OAUTH2, None),
    ("google_cloud", "pubsub_service_account", MethodKind.SERVICE_ACCOUNT, "pubsub-jwt"),
    ("google_cloud", "gcs_service_account", MethodKind.SERVICE_ACCOUNT, "gcs-jwt"),
    ("google_cloud", "bigquery_service_account", MethodKind.SERVICE_ACCOUNT, "bq-jwt"),
    ("google_ads", "oauth", MethodKind.OAUTH2, None),
    ("amazon_ads", "oauth", MethodKind.OAUTH2, None),
    ("tiktok", "oauth", MethodKind.OAUTH2, None),
    ("pinterest", "oauth", MethodKind.OAUTH2, None),
    ("snapchat", "oauth", MethodKind.OAUTH2, None),
    ("liveramp", "oauth", MethodKind.OAUTH2, None),
    ("pinterest", "capi_token", MethodKind.TOKEN, "pinterest-capi-token"),
    ("liveramp", "aws_keys", MethodKind.KEYS, "liveramp-aws-keys"),
    ("x", "oauth1", MethodKind.OAUTH1, "twitter-oauth1-0a"),
    ("aws", "access_keys", MethodKind.KEYS, "aws-keys"),
]


@pytest.mark.parametrize(("provider", "method", "kind", "lytics_type"), REQUIRED_METHODS,
                         ids=[f"{p}/{m}" for p, m, _, _ in REQUIRED_METHODS])
def test_required_methods_exist(catalog: Catalog, provider: str, method: str, kind: MethodKind,
                                lytics_type: str | None) -> None:
    spec = catalog.method(provider, method)
    assert spec is not None, f"{provider}/{method} missing from the catalog"
    assert spec.name == method
    assert spec.kind is kind
    assert spec.lytics_type == lytics_type


def test_facebook_details(catalog: Catalog) -> None:
    system_user = catalog.method("facebook", "system_user")
    assert system_user is not None and system_user.recommended
    assert system_user.config_fields["ads_account_id"].required
    assert system_user.config_fields["ads_account_id"].regex.fullmatch("act_1234567890")
    assert not system_user.config_fields["ads_account_id"].regex.fullmatch("1234567890")
    assert set(system_user.secret_fields) == {"access_token"}
    user_oauth = catalog.method("facebook", "user_oauth")
    assert user_oauth is not None and user_oauth.is_oauth
    assert any("password" in w and "system_user" in w for w in user_oauth.warnings)


def test_google_cloud_service_accounts_take_cert_json(catalog: Catalog) -> None:
    for method in ("pubsub_service_account", "gcs_service_account", "bigquery_service_account"):
        spec = catalog.method("google_cloud", method)
        assert spec is not None
        assert set(spec.secret_fields) == {"cert_json"}
        assert spec.secret_fields["cert_json"].required


def test_only_pubsub_service_account_supports_pubsub_ingress(catalog: Catalog) -> None:
    supporters = [(p.name, m.name) for p, m in catalog.workflows["pubsub-ingress"]]
    assert supporters == [("google_cloud", "pubsub_service_account")]
    assert not catalog.method("google_cloud", "gcs_service_account").supports("pubsub-ingress")
    assert not catalog.method("google_cloud", "bigquery_service_account").supports("pubsub-ingress")


@pytest.mark.parametrize("workflow", [
    "facebook-audience-populate", "adwords-customer-match", "amazon-ads-audience-export", "pubsub-ingress",
    "pinterest-export-audience", "snapchat-export", "tiktok-export-audience", "twitter-export-audience",
    "liveramp-s3-export",
])
def test_platform_workflow_slugs_are_known(catalog: Catalog, workflow: str) -> None:
    assert catalog.workflows.get(workflow), workflow


def test_a_plain_api_key_provider_exists(catalog: Catalog) -> None:
    api_key_methods = [m for p in catalog.providers.values() for m in p.methods.values()
                       if m.kind is MethodKind.API_KEY]
    assert api_key_methods


def test_catalog_wide_invariants(catalog: Catalog) -> None:
    slugs: dict[str, str] = {}
    for provider in catalog.providers.values():
        for method in provider.methods.values():
            where = f"{provider.name}/{method.name}"
            if method.is_oauth:
                assert method.oauth is not None, where
                assert not method.secret_fields, where  # tokens come from `authctl login`
                assert method.oauth.authorize_url.startswith("https://"), where
                assert method.oauth.token_url.startswith("https://"), where
            else:
                assert method.secret_fields, f"{where}: a non-OAuth method needs a secret field"
            if method.lytics_type:
                assert method.lytics_type not in slugs, f"{where} and {slugs.get(method.lytics_type)}"
                slugs[method.lytics_type] = where
                assert catalog.by_lytics_type(method.lytics_type) == (provider, method)
            for workflow in method.workflows:
                assert workflow in provider.workflows, f"{where}: {workflow} not declared"
    assert catalog.by_lytics_type("no-such-type") is None


def test_builtin_folder_is_the_shipped_package() -> None:
    folder = builtin_providers_dir()
    assert (folder / "__init__.py").is_file()
    assert (folder / "facebook.yaml").is_file()


def test_did_you_mean() -> None:
    assert did_you_mean("sytem_user", ["system_user", "user_oauth"]) == '; did you mean "system_user"?'
    assert did_you_mean("zzz", ["system_user"]) == ""
    assert did_you_mean("x", []) == ""


# -- broken and extra catalog folders ---------------------------------------------------------

GOOD = textwrap.dedent("""\
    name: acme
    title: Acme
    methods:
      api_key:
        title: Acme key
        kind: api_key
        lytics_type: acme-key
        fields:
          - {name: key, title: Key, required: true, secret: true}
    """)


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "extra"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_extra_folder_adds_and_overrides_providers(tmp_path: Path) -> None:
    override = (builtin_providers_dir() / "x.yaml").read_text(encoding="utf-8").replace(
        "title: X (Twitter) Ads", "title: X overridden", 1)
    folder = _folder(tmp_path, {"acme.yaml": GOOD, "x.yaml": override})
    catalog = load_catalog([folder])
    assert catalog.method("acme", "api_key").lytics_type == "acme-key"
    assert catalog.providers["x"].title == "X overridden"
    assert "facebook" in catalog.providers


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("acme.yaml", GOOD.replace("kind: api_key", "kind: api_kee"), "acme.yaml: methods.api_key.kind: Input should be"),
    ("acme.yaml", GOOD.replace("title: Key,", "titel: Key,"),
     "acme.yaml: methods.api_key.fields.0.titel: Extra inputs are not permitted"),
    ("acme.yaml", GOOD.replace("title: Key,", "title: Key, pattern: '[unclosed',"),
     "acme.yaml: methods.api_key.fields.0.pattern: Value error, not a valid regular expression"),
    ("acme.yaml", GOOD.replace("kind: api_key", "kind: oauth2"), "acme.yaml: methods.api_key: Value error, "
     "method kind oauth2 needs an 'oauth' section"),
    ("acme.yaml", GOOD + "workflows:\n  other: {title: Other}\n", None),
    ("acme.yaml", GOOD.replace("name: acme", "name: acme2"), "acme.yaml: name: 'acme2' must match the file name"),
    ("acme.yaml", GOOD.replace("methods:\n", "methods:\nmethods:\n"), "acme.yaml:4: invalid YAML: duplicate key"),
    ("acme.yaml", "name: [\n", "acme.yaml:1: invalid YAML"),
    ("acme.yaml", "- a list\n", "acme.yaml: expected a mapping with name, title and methods"),
    ("acme.yaml", "name: acme\ntitle: Acme\nmethods: {}\n", "acme.yaml: methods: Value error, a provider needs at least one method"),
])
def test_broken_catalog_file_names_file_and_field(tmp_path: Path, name: str, text: str,
                                                  expected: str | None) -> None:
    folder = _folder(tmp_path, {name: text})
    if expected is None:  # a provider declaring unused workflows is fine
        assert "acme" in load_catalog([folder]).providers
        return
    with pytest.raises(CatalogError) as info:
        load_catalog([folder])
    message = str(info.value)
    assert message.startswith("the provider catalog is broken:")
    assert f"{folder}/{expected}" in message, message


def test_every_broken_file_is_reported_at_once(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"a.yaml": "- x\n", "b.yaml": GOOD.replace("kind: api_key", "kind: nope")
                                .replace("name: acme", "name: b")})
    with pytest.raises(CatalogError) as info:
        load_catalog([folder, tmp_path / "missing"])
    message = str(info.value)
    assert f"{folder}/a.yaml: expected a mapping" in message
    assert f"{folder}/b.yaml: methods.api_key.kind" in message
    assert f"{tmp_path / 'missing'}: provider folder not found" in message


def test_workflow_listed_but_not_declared(tmp_path: Path) -> None:
    text = GOOD.replace("    fields:", "    workflows: [acme-export, acme-typo]\n    fields:") + \
        "workflows:\n  acme-export: {title: Export}\n"
    folder = _folder(tmp_path, {"acme.yaml": text})
    with pytest.raises(CatalogError, match="acme.yaml: workflows: Value error, method api_key lists workflows "
                       "not declared under 'workflows': acme-typo"):
        load_catalog([folder])


def test_non_utf8_catalog_file(tmp_path: Path) -> None:
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "acme.yaml").write_bytes(b"name: acme\ntitle: \xff\n")
    with pytest.raises(CatalogError, match=r"acme\.yaml: cannot read"):
        load_catalog([folder])
