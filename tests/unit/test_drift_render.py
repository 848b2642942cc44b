"""The drift report's renderers: the JSON contract, the wording, and hostile platform text in every format.

Text typed in a platform's UI (a label, a job name, even an id over a hostile API) reaches
all three formats; it must come out as data: exact in JSON, escaped on the terminal,
inside code spans in markdown (the corpus and the checks are test_hostile_text.py's).
"""

from __future__ import annotations

import json

import pytest
from test_hostile_text import FORBIDDEN, HOSTILE, IDS, _outside_code, _structure, assert_terminal_safe, terminal
from test_hostile_text import _MD as MARKDOWN

from reconciler.drift import Drift, DriftContext, DriftKind, DriftReport, RelatedObject
from reconciler.render.drift_json import drift_to_dict, render_drift_json
from reconciler.render.drift_markdown import MAX_CHARS, render_drift_markdown
from reconciler.render.drift_text import render_drift_text
from reconciler.render.drift_words import hint

CONTEXT = DriftContext(environment="prod", backend="local", state_serial=4, state_lineage="lineage-1")


def report_with(text: str) -> DriftReport:
    """One drift of every kind, with ``text`` wherever the platform supplies text (labels, names, ids)."""
    auth = RelatedObject("authorization", f"id-{text}", f"label {text}")
    job = RelatedObject("job", f"job-{text}", f"job {text}", None, "running")
    drifts = (
        Drift(DriftKind.AUTHORIZATION_DELETED, "Authorization/gone", "G1", None,
              {"label": f"old {text}", "provider": "pinterest", "method": "capi_token"}, None, (auth,)),
        Drift(DriftKind.AUTHORIZATION_EDITED, "Authorization/main", "A1", "label", "Main", text),
        Drift(DriftKind.UNMANAGED_JOB, "Authorization/main", "A1", "jobs", None, job.id, (job,)),
        Drift(DriftKind.JOB_DELETED, "Job/sync", "J0", None, {"workflow": "pinterest-capi-export",
                                                               "state": "running"}),
        Drift(DriftKind.JOB_EDITED, "Job/export", f"J1 {text}", "name", "export", text),  # (an id from a hostile API)
        Drift(DriftKind.JOB_REBOUND, "Job/export", "J1", "authorizations", ["A1"], [auth.id],
              (RelatedObject("authorization", "A1", text, "Authorization/main"), auth)),
        Drift(DriftKind.JOB_STATE_CHANGED, "Job/export", "J1", "state", "running", "paused"),
    )
    return DriftReport(drifts, 3, 2, CONTEXT)


BENIGN = report_with("plain")


# -- the JSON contract ------------------------------------------------------------------------------
def test_json_document_is_the_versioned_contract() -> None:
    data = json.loads(render_drift_json(BENIGN))
    assert (data["format_version"], data["kind"], data["has_drift"]) == ("1", "authctl-drift", True)
    assert set(data) == {"format_version", "kind", "has_drift", "summary_line", "summary", "drift", "accepted",
                         "context"}
    assert data["summary"] == {"drift": 7, "accepted": 0, "checked_authorizations": 3, "checked_jobs": 2,
                               **{kind.value: 1 for kind in DriftKind}}
    assert data["context"] == {"environment": "prod", "backend": "local", "state_serial": 4,
                               "state_lineage": "lineage-1", "state_found": True}
    for entry in data["drift"]:
        assert set(entry) == {"kind", "object", "address", "id", "field", "recorded", "live", "related", "hint"}
        assert entry["object"] == entry["address"].split("/")[0].lower()
        assert entry["hint"]
    edited = next(e for e in data["drift"] if e["kind"] == "authorization_edited")
    assert (edited["field"], edited["recorded"], edited["live"]) == ("label", "Main", "plain")
    unmanaged = next(e for e in data["drift"] if e["kind"] == "unmanaged_job")
    assert unmanaged["related"] == [{"kind": "job", "id": "job-plain", "name": "job plain", "address": None,
                                     "status": "running"}]
    assert unmanaged["hint"].startswith("`authctl import NAME job-plain`")


def test_json_is_deterministic() -> None:
    assert render_drift_json(BENIGN) == render_drift_json(report_with("plain"))


@pytest.mark.parametrize(("report", "line"), [
    (DriftReport((), 2, 5, CONTEXT),
     "No drift: the platform matches what authctl last applied (2 authorizations, 5 jobs checked)."),
    (DriftReport((), 0, 0, DriftContext(None, "local", 0, None, state_found=False)),
     "No drift: nothing has been applied yet (no state store), so there is nothing to compare."),
    (BENIGN, "Drift: 7 changes outside authctl (1 authorization deleted, 1 authorization edit, 1 job deleted, "
             "1 job state change, 1 job moved, 1 job edit, 1 unmanaged job on a managed authorization)."),
])
def test_summary_line_says_what_was_found(report: DriftReport, line: str) -> None:
    assert drift_to_dict(report)["summary_line"] == line
    assert terminal(render_drift_text(report), color=False).splitlines()[0] == line


def test_accepted_differences_are_counted_not_reported_as_drift() -> None:
    edited = BENIGN.drifts[1]
    report = DriftReport((), 3, 2, CONTEXT, accepted=(edited,))
    data = drift_to_dict(report)
    assert (data["has_drift"], data["summary"]["drift"], data["summary"]["accepted"]) == (False, 0, 1)
    assert data["accepted"][0]["kind"] == "authorization_edited"
    out = terminal(render_drift_text(report), color=False)
    assert "1 difference from the last apply is what the manifests ask for now: not drift" in out
    assert "edited outside authctl" not in out
    assert "what the manifests ask for now" in render_drift_markdown(report)


@pytest.mark.parametrize(("recorded", "live", "words"), [
    ("running", "paused", "the next apply resumes it; to keep it paused, set spec.state: paused"),
    ("running", "failed", "the next apply resumes it"),
    ("paused", "running", "the next apply pauses it again; to keep it running, set spec.state: running"),
    ("paused", "completed", "apply leaves a stopped job alone: set spec.state: running to start it, or remove the "
                            "job from the manifests"),
])
def test_a_state_hint_promises_what_the_planner_does(recorded: str, live: str, words: str) -> None:
    entry = {"kind": "job_state_changed", "address": "Job/x", "recorded": recorded, "live": live}
    assert hint(entry) == words


def test_text_names_each_drift_with_both_values_and_what_clears_it() -> None:
    out = terminal(render_drift_text(BENIGN), color=False)
    assert '~ Authorization/main (id A1): label edited outside authctl\n    label: "Main" -> "plain"\n' in out
    assert "- Authorization/gone (id G1): deleted outside authctl" in out
    assert "an unmanaged authorization now has the recorded label: id-plain (unmanaged, label \"label plain\")" in out
    assert "`authctl import gone id-plain` adopts it" in out
    assert '+ Authorization/main (id A1): used by a job no manifest manages\n    job "job plain" (id job-plain, ' \
           "running, unmanaged)" in out
    assert "    state: running -> paused" in out
    assert 'recorded: A1 (Authorization/main, label "plain")' in out
    assert out.rstrip().endswith("to keep a change, change the manifests to match.")


def test_markdown_is_capped_at_the_comment_limit_with_a_note() -> None:
    many = tuple(Drift(DriftKind.AUTHORIZATION_EDITED, f"Authorization/a{i:05d}", f"id{i}", "label", "x" * 150,
                       "y" * 150) for i in range(2_000))
    md = render_drift_markdown(DriftReport(many, 2_000, 0, CONTEXT))
    assert len(md) <= MAX_CHARS
    assert "more not shown: the comment is limited to 60,000 characters" in md
    assert md.rstrip().endswith("nothing was changed</sub>")


# -- hostile text in every format -------------------------------------------------------------------
@pytest.mark.parametrize("key", IDS)
@pytest.mark.parametrize("color", [False, True])
def test_text_shows_platform_text_as_data(key: str, color: bool) -> None:
    out = terminal(render_drift_text(report_with(HOSTILE[key])), color=color)
    assert_terminal_safe(out)
    base = terminal(render_drift_text(BENIGN), color=color)
    assert out.count("\n") == base.count("\n")  # (the console is 100,000 wide: no line is wrapped)


@pytest.mark.parametrize("key", IDS)
def test_markdown_has_the_structure_of_a_benign_report(key: str) -> None:
    md = render_drift_markdown(report_with(HOSTILE[key]))
    base = render_drift_markdown(BENIGN)
    assert FORBIDDEN.search(md.replace("\n", "")) is None
    assert md.count("\n") == base.count("\n")
    assert _structure(md) == _structure(base)
    html, base_html = MARKDOWN.render(md).lower(), MARKDOWN.render(base).lower()
    for tag in ("<script", "<!--", "<h1", "<h2", "<h4", "<table", "<a ", "<img", "<em>", "<strong>", "<s>",
                "<blockquote", "<pre", "<ol", "<li"):
        assert html.count(tag) == base_html.count(tag), tag
    assert "@channel" not in _outside_code(html) and "@acme" not in _outside_code(html)
    assert max(len(line) for line in md.splitlines()) < 2_000  # 10 kB values are shortened


@pytest.mark.parametrize("key", IDS)
def test_json_gives_back_platform_text_exactly(key: str) -> None:
    h = HOSTILE[key]
    document = render_drift_json(report_with(h))
    assert FORBIDDEN.search(document.replace("\n", "")) is None
    data = json.loads(document)
    edited = next(e for e in data["drift"] if e["kind"] == "authorization_edited")
    assert edited["live"] == h
    assert next(e for e in data["drift"] if e["kind"] == "unmanaged_job")["related"][0]["name"] == f"job {h}"
