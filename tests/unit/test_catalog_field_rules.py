"""Provider files state value rules (enum, minimum/maximum, list items) and where their fields come from.

A workspace's own provider file is validated as strictly as the built-in catalog: a rule
that cannot apply to the field's type, an inverted range, or an ``api_model`` with
neither a model nor a note saying why is a CatalogError naming the file and the field.
The compiled catalog carries the new facts unchanged.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.catalog import builtin_providers_dir, load_catalog
from reconciler.catalog_schema import load_provider_file

HEAD = """\
name: acme
title: Acme
methods:
  token:
    title: Token
    kind: token
    fields: [{name: token, title: Token, secret: true}]
    workflows: [acme-export]
workflows:
  acme-export:
    title: Export
"""


def _load(tmp_path: Path, workflow_body: str) -> list[str]:
    path = tmp_path / "acme.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(workflow_body), "    "), encoding="utf-8")
    problems: list[str] = []
    load_provider_file(path, problems)
    return problems


@pytest.mark.parametrize(("body", "expected"), [
    ("fields: [{name: n, title: N, minimum: 1}]\n", "minimum and maximum apply to numbers, not to a string"),
    ("fields: [{name: n, title: N, type: integer, minimum: 5, maximum: 1}]\n", "minimum is greater than maximum"),
    ("fields: [{name: n, title: N, items: string}]\n", "only list fields have one"),
    ("fields: [{name: n, title: N, enum: []}]\n", "fields.0.enum"),
    ("api_model: {model: null}\n", "say in 'note' why there is no model"),
    ("api_model: {model: 'models.Bad Name'}\n", "api_model.model"),
])
def test_rules_that_cannot_apply_are_refused(tmp_path: Path, body: str, expected: str) -> None:
    problems = _load(tmp_path, body)
    assert any(expected in p and "acme.yaml" in p for p in problems), problems


def test_rules_and_model_load_and_survive_compilation(tmp_path: Path) -> None:
    body = """\
        api_model: {model: models.AcmeExport, path: /job/acme-export}
        fields:
          - {name: level, title: Level, type: integer, minimum: 0, maximum: 90}
          - {name: kinds, title: Kinds, type: list, items: string, enum: [a, b]}
          - {name: conversion_value_Field, title: Value field}
        """
    assert _load(tmp_path, body) == []
    builtin = load_catalog()
    compiled_dsp = builtin.workflow_spec("amazon-dsp-export")
    from reconciler.catalog_schema import load_provider_file as full

    problems: list[str] = []
    validated = full(builtin_providers_dir() / "amazon_ads.yaml", problems)
    assert problems == [] and validated is not None
    assert validated.workflows["amazon-dsp-export"] == compiled_dsp  # the compiled file holds the same facts
