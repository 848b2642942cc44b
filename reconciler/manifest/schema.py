"""JSON Schema of the manifest format, for editors (yaml-language-server).

Generated from the pydantic models, then narrowed with what the catalog knows
(provider names, workflow slugs) so editors can complete them.
"""

from __future__ import annotations

from typing import Any

from reconciler.catalog import Catalog
from reconciler.manifest.model import AuthorizationDocument, JobDocument
from reconciler.manifest.secret_files import MAX_PATH_CHARS
from reconciler.manifest.validate import MAX_ENV_NAME

SCHEMA_ID = "https://authctl.dev/schema/v1/manifest.json"
_SECRET_REF = {
    "description": "A secret reference; never a literal secret.",
    "oneOf": [
        {"type": "object", "properties": {"env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                                                  "maxLength": MAX_ENV_NAME}},
         "required": ["env"], "additionalProperties": False},
        {"type": "object", "properties": {"file": {"type": "string", "minLength": 1, "maxLength": MAX_PATH_CHARS}},
         "required": ["file"], "additionalProperties": False},
    ],
}


def manifest_schema(catalog: Catalog) -> dict[str, Any]:
    auth = AuthorizationDocument.model_json_schema(ref_template="#/$defs/{model}")
    job = JobDocument.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = {**auth.pop("$defs", {}), **job.pop("$defs", {})}
    defs["AuthorizationDocument"] = auth
    defs["JobDocument"] = job
    defs["SecretRef"] = _SECRET_REF
    auth_spec = defs["AuthorizationSpecModel"]["properties"]
    auth_spec["provider"]["enum"] = sorted(catalog.providers)
    auth_spec["method"]["enum"] = sorted({m for p in catalog.providers.values() for m in p.methods})
    auth_spec["credentials"]["additionalProperties"] = {"$ref": "#/$defs/SecretRef"}
    defs["JobSpecModel"]["properties"]["workflow"]["enum"] = sorted(catalog.workflows)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "authctl manifest (authctl/v1)",
        "oneOf": [{"$ref": "#/$defs/AuthorizationDocument"}, {"$ref": "#/$defs/JobDocument"}],
        "$defs": defs,
    }
