"""Issue 17: the catalog's fields are the Lytics v2 OpenAPI document's, not guesses.

``tests/data/lytics_openapi_extract.json`` holds the facts: for every auth type and job
workflow the catalog models, the path that creates it, the component schema its config
uses, verbatim, and the commit of the document. ``scripts/catalog_fields.py`` compares the
catalog with it (``--check``) and rewrites the catalog from it (``--write``); this test runs
the comparison, and checks that the comparison can fail.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reconciler.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
EXTRACT = json.loads((ROOT / "tests" / "data" / "lytics_openapi_extract.json").read_text(encoding="utf-8"))


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("catalog_fields", ROOT / "scripts" / "catalog_fields.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("catalog_fields", module)
    spec.loader.exec_module(module)
    return module


fields_script = _script()


def test_the_extract_names_its_source() -> None:
    source = EXTRACT["source"]
    assert source["repo"] == "api-evangelist/lytics"
    assert source["path"] == "openapi/_original/lytics-api-v2-openapi.json"
    assert len(source["commit"]) == 40
    for section in ("auth_types", "workflows"):
        for slug, entry in EXTRACT[section].items():
            assert entry["model"].startswith("models."), slug
            assert entry["path"] == ("/auth/" if section == "auth_types" else "/job/") + slug


def test_the_catalog_equals_the_document() -> None:
    assert fields_script.differences(EXTRACT) == []


def test_every_modelled_type_and_workflow_names_its_model() -> None:
    catalog = load_catalog()
    for provider in catalog.providers.values():
        for method in provider.methods.values():
            assert method.api_model is not None, f"{provider.name}/{method.name}"
            if method.lytics_type:
                assert method.api_model.model == EXTRACT["auth_types"][method.lytics_type]["model"]
            else:
                assert method.api_model.model is None and "UI" in method.api_model.note
        for slug, workflow in provider.workflows.items():
            assert workflow.api_model is not None and workflow.api_model.model == EXTRACT["workflows"][slug]["model"]


def _workflow_fields(slug: str) -> list[dict[str, Any]]:
    return fields_script.document_fields(EXTRACT["workflows"][slug]["schema"])


@pytest.mark.parametrize(("change", "expected"), [
    (lambda fs: fs[1:], "is in the document, not in the catalog"),
    (lambda fs: fs + [{"name": "audiences", "type": "list"}], "is in the catalog, not in the document"),
    (lambda fs: [{**f, "type": "integer"} if f["name"] == "segment_id" else f for f in fs], "type integer"),
    (lambda fs: [{**f, "required": True} if f["name"] == "org" else f for f in fs], "required True"),
    (lambda fs: [{**f, "enum": ["a"]} if f["name"] == "segment_id" else f for f in fs], "enum ['a']"),
    (lambda fs: [{**f, "description": "guess"} if f["name"] == "segment_id" else f for f in fs],
     "description differs"),
])
def test_the_comparison_fails_when_the_catalog_strays(change: Any, expected: str) -> None:
    """Each kind of drift from the document is reported (a check that cannot fail would prove nothing)."""
    facts = _workflow_fields("snapchat-export")
    catalog_fields = [dict(f) for f in facts]
    assert fields_script._field_differences("w", catalog_fields, facts, extra_required_ok=False) == []
    problems = fields_script._field_differences("w", change(catalog_fields), facts, extra_required_ok=False)
    assert any(expected in p for p in problems), problems


def test_the_real_field_names_replace_the_guesses() -> None:
    """The issue's example: facebook-audience-populate takes segment_id(s), as models.FacebookAudiencePopulate says."""
    catalog = load_catalog()
    names = [f.name for f in catalog.workflow_spec("facebook-audience-populate").fields]  # type: ignore[union-attr]
    assert {"segment_id", "segment_ids", "ads_account_id"} <= set(names) and "audiences" not in names
    amazon = {f.name: f for f in catalog.workflow_spec("amazon-dsp-export").fields}  # type: ignore[union-attr]
    assert amazon["country_codes"].type == "list" and amazon["country_codes"].items == "string"
    assert "GB" in (amazon["country_codes"].enum or []) and amazon["advertiser_string"].required
