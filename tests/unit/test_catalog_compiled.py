"""The precompiled built-in catalog (providers/catalog.compiled.json).

This is where the shipped catalog is validated at test time: the committed compiled file
must be what full validation of providers/*.yaml gives today. At run time load_catalog
trusts that file while its digest matches the YAML files, and validates in full otherwise;
workspace folders are always validated in full.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.catalog import (
    COMPILED_NAME,
    FieldSpec,
    HealthCheckSpec,
    MethodKind,
    MethodSpec,
    OAuthSpec,
    ProviderSpec,
    WorkflowSpec,
    builtin_providers_dir,
    catalog_digest,
    load_catalog,
    provider_files,
)
from reconciler.catalog_schema import ProviderSpec as ProviderModel
from reconciler.catalog_schema import compile_folder, validate_folder
from reconciler.errors import CatalogError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "compile_catalog.py"
BUILTIN = builtin_providers_dir()


def _as_text(providers: dict[str, ProviderSpec]) -> str:
    """Order-sensitive picture of providers (dataclass equality ignores dict order)."""
    return json.dumps([(name, spec.to_json()) for name, spec in providers.items()])


@pytest.fixture
def builtin_copy(tmp_path: Path) -> Path:
    """A copy of the built-in folder (YAML files and compiled file) to point load_catalog at."""
    folder = tmp_path / "builtin"
    shutil.copytree(BUILTIN, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


# -- the committed file -----------------------------------------------------------------------

def test_committed_compiled_file_is_up_to_date() -> None:
    """Fails when a provider file changed without `python scripts/compile_catalog.py`."""
    committed = (BUILTIN / COMPILED_NAME).read_text(encoding="utf-8")
    assert committed == compile_folder(BUILTIN), "stale: run python scripts/compile_catalog.py"


def test_compile_check_script() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compile_check_script_reports_a_stale_file(builtin_copy: Path) -> None:
    _edit(builtin_copy / "x.yaml", "title: X (Twitter) Ads", "title: X edited")
    check = [sys.executable, str(SCRIPT), "--check", "--dir", str(builtin_copy)]
    result = subprocess.run(check, capture_output=True, text=True)
    assert result.returncode == 1 and "stale" in result.stderr
    before = (builtin_copy / COMPILED_NAME).read_bytes()
    write = subprocess.run(check[:2] + check[3:], capture_output=True, text=True)
    assert write.returncode == 0, write.stderr
    assert (builtin_copy / COMPILED_NAME).read_bytes() != before
    assert subprocess.run(check, capture_output=True, text=True).returncode == 0
    assert load_catalog(builtin_dir=builtin_copy).providers["x"].title == "X edited"


def test_compile_script_refuses_a_broken_catalog(builtin_copy: Path) -> None:
    _edit(builtin_copy / "x.yaml", "kind: oauth1", "kind: oauth3")
    result = subprocess.run([sys.executable, str(SCRIPT), "--dir", str(builtin_copy)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "x.yaml: methods.oauth1.kind: Input should be" in result.stderr


def test_compiling_is_deterministic() -> None:
    assert compile_folder(BUILTIN) == compile_folder(BUILTIN)


def test_digest_is_sha256_of_names_and_bytes() -> None:
    expected = hashlib.sha256()
    for path in sorted(BUILTIN.glob("*.y*ml")):
        data = path.read_bytes()
        expected.update(f"{path.name}\0{len(data)}\0".encode() + data)
    assert catalog_digest(provider_files(BUILTIN)) == "sha256:" + expected.hexdigest()
    assert json.loads((BUILTIN / COMPILED_NAME).read_text(encoding="utf-8"))["digest"] == \
        "sha256:" + expected.hexdigest()


# -- compiled == validated --------------------------------------------------------------------

def test_compiled_catalog_equals_the_validated_one() -> None:
    compiled = load_catalog().providers
    validated = validate_folder(BUILTIN)
    assert compiled == validated
    assert _as_text(compiled) == _as_text(validated)  # same order of providers, methods, params
    for name, provider in compiled.items():
        other = validated[name]
        assert type(provider) is ProviderSpec and provider == other
        assert list(provider.methods) == list(other.methods)
        assert list(provider.workflows) == list(other.workflows)
        for method in provider.methods.values():
            assert type(method) is MethodSpec and isinstance(method.kind, MethodKind)
            assert method == other.methods[method.name]
            assert all(type(f) is FieldSpec for f in method.fields)
            assert method.oauth is None or type(method.oauth) is OAuthSpec
            assert method.health_check is None or type(method.health_check) is HealthCheckSpec
            if method.oauth:
                assert list(method.oauth.extra_params) == list(other.methods[method.name].oauth.extra_params)
        assert all(type(w) is WorkflowSpec for w in provider.workflows.values())


def test_to_json_is_what_the_pydantic_models_dumped() -> None:
    """`authctl providers --format json` keeps its output: to_json() == model_dump(mode="json")."""
    import yaml

    for name, spec in load_catalog().providers.items():
        data = yaml.safe_load((BUILTIN / f"{name}.yaml").read_text(encoding="utf-8"))
        dumped = ProviderModel.model_validate(data).model_dump(mode="json")
        assert json.dumps(spec.to_json()) == json.dumps(dumped), name


def test_runtime_specs_are_frozen() -> None:
    method = load_catalog().method("facebook", "system_user")
    with pytest.raises(AttributeError):
        method.title = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        method.health_check.url = "https://example.com"  # type: ignore[misc, union-attr]


def test_fast_path_imports_neither_pydantic_nor_yaml() -> None:
    code = ("import sys\nfrom reconciler.catalog import load_catalog\n"
            "assert load_catalog().method('facebook', 'system_user')\n"
            "print(sorted(m for m in ('pydantic', 'yaml', 'reconciler.catalog_schema') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- which path load_catalog takes ------------------------------------------------------------

def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_matching_digest_loads_the_compiled_file(builtin_copy: Path) -> None:
    """Proof the JSON is what gets used: a change made only there shows (never do this by hand)."""
    _edit(builtin_copy / COMPILED_NAME, '"title": "X (Twitter) Ads"', '"title": "X from JSON"')
    assert load_catalog(builtin_dir=builtin_copy).providers["x"].title == "X from JSON"


def test_a_stale_digest_falls_back_to_full_validation(builtin_copy: Path) -> None:
    _edit(builtin_copy / "x.yaml", "title: X (Twitter) Ads", "title: X edited in a checkout")
    catalog = load_catalog(builtin_dir=builtin_copy)
    assert catalog.providers["x"].title == "X edited in a checkout"
    assert catalog.providers == validate_folder(builtin_copy)
    assert list(catalog.providers) == list(load_catalog().providers)


def test_a_stale_digest_reports_a_broken_builtin_file(builtin_copy: Path) -> None:
    _edit(builtin_copy / "x.yaml", "kind: oauth1", "kind: oauth3")
    with pytest.raises(CatalogError) as info:
        load_catalog(builtin_dir=builtin_copy)
    assert f"{builtin_copy}/x.yaml: methods.oauth1.kind: Input should be" in str(info.value)


def test_an_added_or_removed_builtin_file_makes_the_digest_stale(builtin_copy: Path) -> None:
    (builtin_copy / "aws.yaml").unlink()
    assert "aws" not in load_catalog(builtin_dir=builtin_copy).providers
    shutil.copy(BUILTIN / "x.yaml", builtin_copy / "aws.yaml")  # full validation: name must match
    with pytest.raises(CatalogError, match=r"aws\.yaml: name: 'x' must match the file name 'aws'"):
        load_catalog(builtin_dir=builtin_copy)


@pytest.mark.parametrize("damage", ["missing", "not json", "other format", "missing key"])
def test_an_unusable_compiled_file_falls_back_to_full_validation(builtin_copy: Path, damage: str) -> None:
    compiled = builtin_copy / COMPILED_NAME
    data = json.loads(compiled.read_text(encoding="utf-8"))
    if damage == "missing":
        compiled.unlink()
    elif damage == "not json":
        compiled.write_text("{", encoding="utf-8")
    elif damage == "other format":
        compiled.write_text(json.dumps({**data, "format": 999}), encoding="utf-8")
    else:
        del data["providers"][0]["methods"][0]["title"]
        compiled.write_text(json.dumps(data), encoding="utf-8")
    assert load_catalog(builtin_dir=builtin_copy).providers == validate_folder(BUILTIN)


def test_a_missing_builtin_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="provider folder not found"):
        load_catalog(builtin_dir=tmp_path / "nowhere")


# -- workspace folders are always validated ---------------------------------------------------

def test_a_broken_user_file_names_file_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "extra"
    folder.mkdir()
    (folder / "acme.yaml").write_text(
        "name: acme\ntitle: Acme\nmethods:\n  key:\n    title: Key\n    kind: api_key\n"
        "    fields:\n      - {name: key, titel: Key, secret: true}\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog([folder])
    message = str(info.value)
    assert message.startswith("the provider catalog is broken:")
    assert f"{folder}/acme.yaml: methods.key.fields.0.titel: Extra inputs are not permitted" in message
    assert f"{folder}/acme.yaml: methods.key.fields.0.title: Field required" in message


def test_a_user_copy_of_a_builtin_file_is_validated_and_overrides(tmp_path: Path) -> None:
    folder = tmp_path / "extra"
    folder.mkdir()
    text = (BUILTIN / "x.yaml").read_text(encoding="utf-8")
    (folder / "x.yaml").write_text(text.replace("title: X (Twitter) Ads", "title: Mine", 1), encoding="utf-8")
    catalog = load_catalog([folder])
    assert catalog.providers["x"].title == "Mine"
    assert list(catalog.providers) == list(load_catalog().providers)  # overriding keeps the place
    (folder / "x.yaml").write_text(text.replace("kind: oauth1", "kind: oauth3"), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"extra/x\.yaml: methods\.oauth1\.kind: Input should be"):
        load_catalog([folder])
