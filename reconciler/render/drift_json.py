"""``authctl plan --refresh-only --format json``: the drift report's versioned JSON document.

Contract (format_version "1"): fields may be added, never removed or renamed::

    {"format_version": "1", "kind": "authctl-drift", "has_drift": bool, "summary_line": str,
     "summary": {"drift", "accepted", "checked_authorizations", "checked_jobs", <one count per kind>},
     "drift": [{"kind", "object", "address", "id", "field", "recorded", "live",
                "related": [{kind, id, name, address, status}], "hint"}],
     "accepted": [... the same shape: differences the manifests already ask for, not drift],
     "context": {"environment", "backend", "state_serial", "state_lineage", "state_found"}}

``kind`` is one of reconciler.drift.DriftKind (authorization_deleted, authorization_edited,
job_deleted, job_state_changed, job_rebound, job_edited, unmanaged_job); ``object`` is
``authorization`` or ``job``, the managed object ``address``/``id`` name. Deterministic
(no timestamps), no secret values (state records none). Strings stay exact; control,
bidi and invisible code points are written as ``\\uXXXX`` (render/escape.py).
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.drift import Drift, DriftReport
from reconciler.render.drift_words import hint, summary_line
from reconciler.render.escape import json_text

FORMAT_VERSION = "1"
DOCUMENT_KIND = "authctl-drift"


def _entry(drift: Drift) -> dict[str, Any]:
    entry = {"kind": drift.kind.value, "object": drift.kind.subject, "address": drift.address, "id": drift.id,
             "field": drift.field, "recorded": drift.recorded, "live": drift.live,
             "related": [r.to_json() for r in drift.related]}
    entry["hint"] = hint(entry)
    return entry


def drift_to_dict(report: DriftReport) -> dict[str, Any]:
    """The JSON document; text and markdown render from it."""
    ctx = report.context
    summary: dict[str, Any] = {"drift": len(report.drifts), "accepted": len(report.accepted),
                               "checked_authorizations": report.checked_authorizations,
                               "checked_jobs": report.checked_jobs, **report.counts()}
    context = {"environment": ctx.environment, "backend": ctx.backend, "state_serial": ctx.state_serial,
               "state_lineage": ctx.state_lineage, "state_found": ctx.state_found}
    return {
        "format_version": FORMAT_VERSION,
        "kind": DOCUMENT_KIND,
        "has_drift": report.has_drift,
        "summary_line": summary_line({"summary": summary, "context": context}),
        "summary": summary,
        "drift": [_entry(d) for d in report.drifts],
        "accepted": [_entry(d) for d in report.accepted],
        "context": context,
    }


def render_drift_json(report: DriftReport) -> str:
    return json_text(json.dumps(drift_to_dict(report), indent=2, ensure_ascii=False)) + "\n"
