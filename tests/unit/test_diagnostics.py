"""Diagnostics at scale: grouped warnings, capped errors, and lines looked up only for what is shown.

The laziness is observed, not timed: ``SourceMap.compositions`` counts how many times a
file's YAML nodes were composed, which is what a line lookup costs.
"""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from reconciler.catalog import load_catalog
from reconciler.diagnostic_report import ERROR_CAP, diagnostics_json, group_text, report_lines
from reconciler.diagnostics import Diagnostic, Severity, Where, resolve_lines
from reconciler.errors import DiagnosticSink, ManifestError
from reconciler.manifest.loader import DocumentReader, RawDocument
from reconciler.manifest.validate import validate_documents
from reconciler.yaml_with_lines import SourceMap

AUTH = textwrap.dedent("""\
    apiVersion: authctl/v1
    kind: Authorization
    metadata: {name: fb-ads}
    spec:
      provider: facebook
      method: system_user
      label: Facebook Ads
      config: {ads_account_id: act_1234567890}
      credentials: {access_token: {env: FB_TOKEN}}
    """)


def job(name: str, extra: str = "retention_days: s1") -> str:  # a field the workflow does not define
    return textwrap.dedent(f"""\
        apiVersion: authctl/v1
        kind: Job
        metadata: {{name: {name}}}
        spec:
          workflow: facebook-audience-populate
          authorizations: [fb-ads]
          config:
            segment_ids: [high_value]
            {extra}
        """)


def warning(line: int, name: str = "j", *, file: str = "a.yaml", rule: str = "unknown-config-field",
            subject: tuple[str, ...] = ("wf", "retention_days"), summary: str = "jobs set retention_days",
            message: str = "retention_days is not known") -> Diagnostic:
    return Diagnostic(file, line, f"Job/{name}", "spec.config.retention_days", message, Severity.WARNING,
                      rule=rule, subject=subject, summary=summary)


def error(line: int, file: str = "a.yaml") -> Diagnostic:
    return Diagnostic(file, line, f"Job/j{line}", "spec.authorizations.0", 'unknown authorization "x"',
                      rule="unknown-authorization")


def texts(diagnostics: list[Diagnostic], **kwargs: object) -> list[str]:
    return [line.text for line in report_lines(diagnostics, **kwargs)]  # type: ignore[arg-type]


# -- grouping -------------------------------------------------------------------------------

def test_a_group_of_many_is_one_line_with_the_count_and_the_first_locations() -> None:
    diagnostics = [warning(line, f"j{line}") for line in range(1, 1235)]
    assert texts(diagnostics) == [
        "warning: 1,234 jobs set retention_days (a.yaml:1, a.yaml:2, a.yaml:3, ...; --all-warnings lists each)"]


def test_a_group_of_a_few_shows_every_location_and_no_ellipsis() -> None:
    assert texts([warning(4, "a"), warning(9, "b")]) == [
        "warning: 2 jobs set retention_days (a.yaml:4, a.yaml:9; --all-warnings lists each)"]


def test_a_group_of_one_prints_exactly_as_the_warning_itself() -> None:
    single = warning(7)
    assert texts([single]) == [single.format()]
    assert single.format() == "warning: a.yaml:7: Job/j: spec.config.retention_days: retention_days is not known"


def test_all_warnings_lists_each() -> None:
    diagnostics = [warning(line, f"j{line}") for line in (3, 1, 2)]
    assert texts(diagnostics, all_warnings=True) == [
        f"warning: a.yaml:{n}: Job/j{n}: spec.config.retention_days: retention_days is not known" for n in (1, 2, 3)]


def test_groups_are_per_rule_and_subject_and_shown_where_their_first_member_is() -> None:
    diagnostics = [
        warning(10, "a", subject=("wf", "x"), summary="jobs set x"),
        warning(5, "b", subject=("wf", "y"), summary="jobs set y"),
        warning(20, "c", subject=("wf", "x"), summary="jobs set x"),
        warning(1, "d", file="b.yaml", subject=("wf", "y"), summary="jobs set y"),
        warning(2, "e", file="b.yaml", rule="other-rule", subject=("wf", "y"), message="another rule"),
    ]
    assert texts(diagnostics) == [
        "warning: 2 jobs set y (a.yaml:5, b.yaml:1; --all-warnings lists each)",
        "warning: 2 jobs set x (a.yaml:10, a.yaml:20; --all-warnings lists each)",
        "warning: b.yaml:2: Job/e: spec.config.retention_days: another rule",
    ]


def test_without_a_summary_a_group_reads_count_times_message() -> None:
    diagnostics = [warning(line, summary="") for line in (1, 2, 3, 4)]
    assert texts(diagnostics) == [
        "warning: 4 × retention_days is not known (a.yaml:1, a.yaml:2, a.yaml:3, ...; --all-warnings lists each)"]
    # No rule at all: only identical messages group.
    anonymous = [warning(n, rule="", summary="", message=m) for n, m in ((1, "m"), (2, "m"), (3, "n"))]
    assert texts(anonymous)[0] == "warning: 2 × m (a.yaml:1, a.yaml:2; --all-warnings lists each)"
    assert len(texts(anonymous)) == 2


def test_group_text_for_renderers() -> None:
    assert group_text(3000, "running jobs use X", ["j1", "j2", "j3", "j4"]) == (
        "3,000 running jobs use X (j1, j2, j3, ...; --all-warnings lists each)")


# -- errors ---------------------------------------------------------------------------------

def test_errors_are_listed_one_by_one_and_never_grouped() -> None:
    errors = [error(line) for line in (3, 1, 2)]
    assert texts(errors) == [
        f'a.yaml:{n}: Job/j{n}: spec.authorizations.0: unknown authorization "x"' for n in (1, 2, 3)]


def test_errors_beyond_the_cap_are_counted() -> None:
    errors = [error(line) for line in range(1, ERROR_CAP + 43)]
    lines = texts(errors + [warning(1000)])
    assert len(lines) == ERROR_CAP + 2
    assert lines[ERROR_CAP - 1] == (
        f'a.yaml:{ERROR_CAP}: Job/j{ERROR_CAP}: spec.authorizations.0: unknown authorization "x"')
    assert lines[ERROR_CAP].startswith("warning: a.yaml:1000:")  # warnings are still shown
    assert lines[-1] == "... and 42 more errors (--format json lists every one)"
    assert texts([error(1), error(2)], error_cap=1)[-1] == "... and 1 more error (--format json lists every one)"
    assert len(texts(errors, error_cap=None)) == len(errors)


def test_manifest_error_counts_errors_and_keeps_every_diagnostic() -> None:
    exc = ManifestError([error(n) for n in range(1, 1501)] + [warning(1)])
    assert exc.message == "1500 errors in the manifests"
    assert len(exc.diagnostics) == 1501
    assert len(diagnostics_json(exc.diagnostics)) == 1501


# -- JSON -----------------------------------------------------------------------------------

def test_json_keeps_the_format_1_keys_and_adds_the_rule() -> None:
    assert diagnostics_json([warning(7), Diagnostic("b.yaml", 0, message="cannot read file")]) == [
        {"severity": "warning", "file": "a.yaml", "line": 7, "address": "Job/j", "field": "spec.config.retention_days",
         "message": "retention_days is not known", "rule": "unknown-config-field"},
        {"severity": "error", "file": "b.yaml", "line": 0, "address": "", "field": "", "message": "cannot read file"},
    ]


# -- lazy lines -----------------------------------------------------------------------------

TEXT = AUTH + "---\n" + job("j1") + "---\n" + job("j2")


def lazy(document: int, path: tuple[object, ...], source: SourceMap, start: int, name: str) -> Diagnostic:
    return Diagnostic("a.yaml", 0, f"Job/{name}", ".".join(map(str, path)), "m", Severity.WARNING,
                      rule="r", subject=("s",), where=Where(source, document, path, start))


def test_sorting_needs_no_line_and_lines_are_looked_up_in_one_pass_per_file() -> None:
    source = SourceMap(TEXT)
    j1_start, j2_start = 11, 21
    late = lazy(2, ("spec", "config", "retention_days"), source, j2_start, "j2")
    early = lazy(1, ("spec", "config", "retention_days"), source, j1_start, "j1")
    assert [d.sort_key[:2] for d in sorted([late, early])] == [("a.yaml", j1_start), ("a.yaml", j2_start)]
    assert ManifestError([late, early]).diagnostics[0] is early
    assert source.compositions == 0 and not early.resolved and not late.resolved
    resolve_lines([late, early])
    assert source.compositions == 1  # one pass for both
    assert (early.line, late.line) == (j1_start + 8, j2_start + 8)
    assert TEXT.splitlines()[early.line - 1].strip() == "retention_days: s1"


def test_a_field_that_cannot_be_found_reports_its_document() -> None:
    diagnostic = lazy(1, ("spec", "nothing", "here"), SourceMap(TEXT), 11, "j1")
    assert diagnostic.line == 14  # the spec: line, where the field would go
    assert lazy(9, ("spec",), SourceMap(TEXT), 11, "j1").line == 11  # no such document: its start


def test_a_document_level_diagnostic_has_its_line_at_once() -> None:
    source = SourceMap(TEXT)
    diagnostic = Diagnostic("a.yaml", message="m", where=Where(source, 1, (), 11))
    assert diagnostic.resolved and diagnostic.line == 11 and source.compositions == 0


def test_diagnostics_pickle_as_the_loader_child_sends_them() -> None:
    sink = DiagnosticSink()
    sink.error("invalid YAML: x", file="a.yaml", line=3, rule="invalid-yaml")
    back = pickle.loads(pickle.dumps(sink.items))
    assert back == sink.items and back[0].rule == "invalid-yaml" and back[0].sort_key == sink.items[0].sort_key


def _load(tmp_path: Path, files: dict[str, str]) -> tuple[list[RawDocument], DiagnosticSink]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    sink = DiagnosticSink()
    reader = DocumentReader([(tmp_path / name, name) for name in files], {}, sink, parallel=False)
    documents = list(reader)
    validate_documents(documents, load_catalog(), sink)
    return documents, sink


def test_validation_composes_only_the_files_whose_lines_are_shown(tmp_path: Path) -> None:
    files = {"a.yaml": AUTH + "---\n" + job("a1") + "---\n" + job("a2"),
             **{f"{x}.yaml": job(f"{x}1") + "---\n" + job(f"{x}2") for x in "bcd"}}
    documents, sink = _load(tmp_path, files)
    sources = {doc.file: doc.source for doc in documents}
    warnings = [d for d in sink.items if d.severity is Severity.WARNING]
    assert len(warnings) == 8 and not sink.has_errors
    assert all(source.compositions == 0 for source in sources.values())  # validating looked up no line

    [line] = texts(warnings)
    assert line == ('warning: 8 jobs set config field "retention_days", which workflow facebook-audience-populate '
                    "does not define (a.yaml:19, a.yaml:29, b.yaml:9, ...; --all-warnings lists each)")
    assert {name: s.compositions for name, s in sources.items()} == {"a.yaml": 1, "b.yaml": 1, "c.yaml": 0,
                                                                     "d.yaml": 0}
    every = diagnostics_json(warnings)  # every line, one more pass over each file that still had some
    assert len(every) == 8 and all(d["rule"] == "unknown-config-field" for d in every)
    assert {name: s.compositions for name, s in sources.items()} == {"a.yaml": 1, "b.yaml": 2, "c.yaml": 1,
                                                                     "d.yaml": 1}
    assert [(d["file"], d["line"]) for d in every] == [("a.yaml", 19), ("a.yaml", 29), ("b.yaml", 9),
                                                       ("b.yaml", 19), ("c.yaml", 9), ("c.yaml", 19),
                                                       ("d.yaml", 9), ("d.yaml", 19)]


def test_a_subjects_message_is_made_once_and_shared(tmp_path: Path) -> None:
    _, sink = _load(tmp_path, {"a.yaml": AUTH + "".join("---\n" + job(f"j{n}", "segment_idz: x") for n in range(5))})
    warnings = [d for d in sink.items if d.severity is Severity.WARNING]
    assert len(warnings) == 5
    assert len({id(d.message) for d in warnings}) == 1 and len({id(d.summary) for d in warnings}) == 1
    assert warnings[0].message == (
        'config field "segment_idz" is not known for workflow facebook-audience-populate; did you mean "segment_id"? '
        "(fields: ads_account_id, audience_description, audience_name, audience_source, duplicate_exports, "
        "hashed_email_field, identifier_field, mappings, opt_out_link, segment_id and 2 more: `authctl providers`)")
    assert {d.subject for d in warnings} == {("facebook-audience-populate", "segment_idz")}


@pytest.mark.parametrize("all_warnings", [False, True])
def test_the_lines_shown_beside_errors_follow_the_same_rules(tmp_path: Path, all_warnings: bool) -> None:
    files = {"a.yaml": AUTH + "---\n" + job("a1") + "---\n" + job("a2").replace("[fb-ads]", "[fb-adz]")}
    _, sink = _load(tmp_path, files)
    lines = texts(sink.items, all_warnings=all_warnings)
    expected_errors = ['a.yaml:26: Job/a2: spec.authorizations.0: unknown authorization "fb-adz"; '
                       'did you mean "fb-ads"? (use the manifest name of an Authorization)']
    if all_warnings:
        assert len(lines) == 3 and lines[1] == expected_errors[0]  # found before the warning of its document
    else:
        assert lines[0].startswith("warning: 2 jobs set config field") and lines[1:] == expected_errors
