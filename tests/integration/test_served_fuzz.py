"""Fuzz ``authctl platform serve`` against its own OpenAPI document with schemathesis.

The server runs as a real subprocess (no faults injected) and schemathesis sends
generated requests, valid and invalid, to every operation with the token. Every answer
must be no 5xx and must match the document: status documented, content type, headers,
and the body against the envelope schemas. Bounded (a few examples per operation, no
deadline) so the whole run stays well under a minute.

The document is built in-process at import (schemathesis parametrizes at collection) and
the first test proves it is byte for byte what the server serves at ``/openapi.json``.
(``schemathesis.pytest.from_fixture``, which would load it from the running server, does
not work with pytest 9: it writes ``Node._nodeid``, which pytest 9 no longer has.)

``positive_data_acceptance`` is left out: a schema-valid body can still be refused with a
400 naming a field, because an authorization's ``config`` holds the fields of its type
(and a job's those of its workflow), which the document cannot state as one JSON Schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.definitions import OPENAPI_31
from served_support import Served, serve_platform

from reconciler.catalog import load_catalog
from reconciler.served.openapi import openapi_document, openapi_json
from reconciler.served.routes import OPERATIONS

TOKEN = "fuzz-token-91c4"
SETTINGS = "name: fuzz\nbackend: {kind: local, path: .authctl/platform.db}\nstate: {url: .authctl/state.db}\n"
DOCUMENT = openapi_document(OPERATIONS, load_catalog())  # the workspace below adds no provider folders
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.auth()
class ServedToken:
    """The token, as schemathesis' auth: so its negative cases that drop the header really send none (401)."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return TOKEN

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "authctl.yaml").write_text(SETTINGS, encoding="utf-8")
    with serve_platform(Path(root), token=TOKEN) as served:
        yield served


def test_the_fuzzed_document_is_the_served_one_and_valid_openapi_3_1(fuzzed_server: Served) -> None:
    served = httpx2.get(f"{fuzzed_server.url}/openapi.json", timeout=10)
    assert served.status_code == 200 and served.content == openapi_json(DOCUMENT)
    jsonschema.Draft202012Validator(OPENAPI_31).validate(DOCUMENT)  # the OpenAPI 3.1 meta-schema
    for component in DOCUMENT["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(component)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_is_documented_and_no_5xx(case: schemathesis.Case, fuzzed_server: Served) -> None:
    response = case.call(base_url=fuzzed_server.url, timeout=10)
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
