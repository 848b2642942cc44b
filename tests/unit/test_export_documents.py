"""What `authctl export` writes (reconciler/export/documents.py, yaml_text.py), read back by authctl's own loader.

Labels, descriptions, job names and config are platform text: whatever they hold, the
exported file must load (Jinja2 first, then YAML) into exactly the values the platform
showed, and carry no secret (export never sees one).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from plan_fixtures import catalog

from reconciler.export.documents import build_export
from reconciler.export.selection import Selection, parse_selection
from reconciler.export import yaml_text
from reconciler.export.yaml_text import Provenance, escape_jinja, render_files, stream_text
from reconciler.live import LiveAuthorization, LiveJob, Snapshot
from reconciler.manifest import load_desired
from reconciler.manifest.templating import jinja_environment
from reconciler.state.records import ManagedObject
from reconciler.vocabulary import JobStatus, ObjectKind
from reconciler.workspace import load_workspace

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PROVENANCE = Provenance(T0, "the embedded platform at .authctl/platform.db", None, "", "authctl.schema.json")

HOSTILE = [
    'quotes "double" and \'single\'',
    "line one\nline two\r\nthree",
    "{{ undefined_variable }} and {% if x %}block{% endif %} {# comment #} {{{ braces",
    "!!python/object/apply:os.system ['true']",
    "&anchor *alias: value # not a comment",
    "- not a list item",
    "--- not a document",
    "@, `, |, >, %, ?: yaml indicators",
    "   padded   ",
    "emoji 🎯 مرحبا 日本語 café",
    "control \x1b[31mred\x1b[0m bell\x07 nel\x85 ls\u2028 ps\u2029",
    "null",
    "123",
    "yes",
    "~",
]


def _auth(i: int, label: str, *, provider: str = "tiktok", method: str = "events_token",
          description: str = "") -> LiveAuthorization:
    return LiveAuthorization(f"a{i:04d}", provider, method, None, label, description, created=T0 + timedelta(i))


def _job(i: int, name: str, auth_ids: tuple[str, ...], *, status: str = "runnable",
         workflow: str = "tiktok-web-events", config: dict[str, Any] | None = None,
         description: str = "") -> LiveJob:
    return LiveJob(f"j{i:04d}", name, workflow, JobStatus.parse(status), auth_ids, config or {}, description,
                   created=T0 + timedelta(i))


def _snapshot(auths: list[LiveAuthorization], jobs: list[LiveJob] = ()) -> Snapshot:  # type: ignore[assignment]
    return Snapshot({a.id: a for a in auths}, {j.id: j for j in jobs})


def _text(result: Any, provider: str) -> str:
    """The text of ``provider``'s (first) file."""
    return next(f.text for f in render_files(result, PROVENANCE) if f.provider == provider)


def _load_back(tmp_path: Path, texts: dict[str, str]) -> Any:
    (tmp_path / "authctl.yaml").write_text("name: export-test\n", encoding="utf-8")
    for name, text in texts.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    workspace = load_workspace(tmp_path)
    return load_desired(workspace, catalog()).desired


TIKTOK_JOB = {"segment_ids": ["recent"], "pixel_code": "CJ4ABC3C77U1234XYZ90", "event_source": "web",
              "event_name": "CompletePayment", "page_url": "https://www.example.com/done",
              "identifier_mapping": [{"lytics": "email", "tiktok": "email"}],
              "property_mapping": [{"lytics": "value", "tiktok": "value"}]}


def test_hostile_platform_text_reads_back_exactly(tmp_path: Path) -> None:
    auths = [_auth(i, label, description=label[::-1]) for i, label in enumerate(HOSTILE)]
    config = {**TIKTOK_JOB, "page_url": "https://x.example/{{ not_jinja }}?a=1&b={%25}"}
    jobs = [_job(i, name, (auths[i].id,), config=config, description=name)
            for i, name in enumerate(HOSTILE)]
    result = build_export(_snapshot(auths, jobs), catalog(), {}, Selection())
    [exported] = result.files
    text = _text(result, "tiktok")
    assert text.startswith("# yaml-language-server: $schema=authctl.schema.json\n")
    desired = _load_back(tmp_path, {exported.file_name: text})
    by_label = {d.label: d for d in desired.authorizations.values()}
    assert sorted(by_label) == sorted(HOSTILE)
    assert all(by_label[label].description == label[::-1] for label in HOSTILE)
    jobs_back = {j.description: j for j in desired.jobs.values()}
    assert sorted(jobs_back) == sorted(HOSTILE)
    for job in jobs_back.values():
        assert job.config == config and job.state == "running"
        assert job.authorizations == (next(n for n, d in desired.authorizations.items()
                                           if d.label == job.description),)


def test_jinja_markers_are_printed_back_not_evaluated() -> None:
    text = "a {{ x }} b {% y %} c {# z #} d {{{{ e }} {"
    escaped = escape_jinja(text)
    left = escaped.replace('{{ "{" }}', "")
    assert not any(marker in left for marker in ("{{", "{%", "{#")), left
    assert jinja_environment().from_string(escaped).render() == text
    assert escape_jinja("no markers {} {x}") == "no markers {} {x}"


def test_each_credential_is_an_env_reference_and_required_config_a_null_to_fill_in() -> None:
    fb = _auth(1, "Facebook Ads main", provider="facebook", method="system_user")
    oauth = _auth(2, "Google Ads", provider="google_ads", method="oauth")
    result = build_export(_snapshot([fb, oauth]), catalog(), {}, Selection())
    files = {f.provider: f for f in result.files}
    [doc] = files["facebook"].documents
    assert doc["spec"]["config"] == {"ads_account_id": None}
    assert doc["spec"]["credentials"] == {"access_token": {"env": "AUTHCTL_FACEBOOK_FACEBOOK_ADS_MAIN_ACCESS_TOKEN"}}
    assert [(c.address, c.field) for c in files["facebook"].fill_in] == \
        [("Authorization/facebook-ads-main", "ads_account_id")]
    [google] = files["google_ads"].documents
    assert "credentials" not in google["spec"] and "config" not in google["spec"]  # OAuth: `authctl login`
    header = _text(result, "facebook").split("---", 1)[0]
    assert "AUTHCTL_FACEBOOK_FACEBOOK_ADS_MAIN_ACCESS_TOKEN" in header
    assert "Authorization/facebook-ads-main config.ads_account_id (Ad account ID)" in header
    assert "from the embedded platform at .authctl/platform.db" in header


def test_a_required_config_null_is_reported_by_validation_at_its_line(tmp_path: Path) -> None:
    from reconciler.errors import ManifestError

    result = build_export(_snapshot([_auth(1, "FB", provider="facebook", method="system_user")]), catalog(), {},
                          Selection())
    text = _text(result, "facebook")
    with pytest.raises(ManifestError) as caught:
        _load_back(tmp_path, {"facebook.yaml": text})
    [problem] = caught.value.diagnostics
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "ads_account_id: null" in t)
    assert (problem.file, problem.line) == ("facebook.yaml", line)


def test_jobs_go_to_their_first_authorizations_file_with_their_state_and_inactive_ones_are_skipped() -> None:
    tiktok = _auth(1, "TikTok web")
    fb = _auth(2, "FB", provider="facebook", method="system_user")
    jobs = [_job(1, "web-events", (tiktok.id,), config=TIKTOK_JOB),
            _job(2, "paused one", (tiktok.id,), status="pausing", config=TIKTOK_JOB),
            _job(3, "fb-sync", (fb.id,), workflow="facebook-audience-populate", status="sleeping"),
            _job(4, "old", (tiktok.id,), status="completed"),
            _job(5, "gone", (tiktok.id,), status="deleted"),
            _job(6, "orphan", ("no-such-auth",)),
            _job(7, "nothing", ())]
    result = build_export(_snapshot([tiktok, fb], jobs), catalog(), {}, Selection())
    files = {f.provider: [(d["kind"], d["metadata"]["name"], d["spec"].get("state")) for d in f.documents]
             for f in result.files}
    assert files == {"facebook": [("Authorization", "fb", None), ("Job", "fb-sync", "running")],
                     "tiktok": [("Authorization", "tiktok-web", None), ("Job", "paused-one", "paused"),
                                ("Job", "web-events", "running")]}
    skipped = {s.name: s.reason for s in result.skipped}
    assert set(skipped) == {"old", "orphan", "nothing"}  # a deleted job is not an object any more
    assert skipped["old"].startswith("completed: a manifest job is running or paused")
    assert "no-such-auth" in skipped["orphan"]
    assert [(r.address, r.live_name) for r in result.renamed_jobs] == [("Job/paused-one", "paused one")]


def test_names_are_unique_stable_and_avoid_what_state_manages() -> None:
    older, newer = _auth(1, "Ads!"), _auth(2, "ads")
    managed = {(ObjectKind.AUTHORIZATION, "ads"): ManagedObject(ObjectKind.AUTHORIZATION, "ads", "m1", {}, T0)}
    first = build_export(_snapshot([newer, older]), catalog(), managed, Selection())
    names = {d["spec"]["label"]: d["metadata"]["name"] for f in first.files for d in f.documents}
    assert names == {"Ads!": "ads-2", "ads": "ads-3"}  # oldest first; "ads" is state's
    again = build_export(_snapshot([older, newer]), catalog(), managed, Selection())
    assert stream_text(again, PROVENANCE) == stream_text(first, PROVENANCE)


def test_managed_objects_are_not_exported_and_jobs_bind_to_their_manifest_names() -> None:
    kept, new = _auth(1, "Kept"), _auth(2, "New")
    managed = {(ObjectKind.AUTHORIZATION, "kept-in-repo"):
               ManagedObject(ObjectKind.AUTHORIZATION, "kept-in-repo", kept.id, {}, T0)}
    job = _job(1, "uses-both", (kept.id, new.id), config=TIKTOK_JOB)
    result = build_export(_snapshot([kept, new], [job]), catalog(), managed, Selection())
    [exported] = result.files
    assert [d["metadata"]["name"] for d in exported.documents] == ["new", "uses-both"]
    assert exported.documents[1]["spec"]["authorizations"] == ["kept-in-repo", "new"]
    assert [s.reason for s in result.skipped] == ["managed already, as Authorization/kept-in-repo"]


def test_select_exports_the_chosen_authorizations_and_the_jobs_using_only_them() -> None:
    tiktok, fb = _auth(1, "TikTok"), _auth(2, "FB", provider="facebook", method="system_user")
    jobs = [_job(1, "tt", (tiktok.id,), config=TIKTOK_JOB), _job(2, "mixed", (tiktok.id, fb.id))]
    result = build_export(_snapshot([tiktok, fb], jobs), catalog(), {}, parse_selection(["provider=tiktok"], catalog()))
    assert [(d["kind"], d["metadata"]["name"]) for f in result.files for d in f.documents] == \
        [("Authorization", "tiktok"), ("Job", "tt")]


def test_an_authorization_the_catalog_does_not_know_is_skipped_with_the_reason() -> None:
    result = build_export(_snapshot([_auth(1, "Mystery", provider="facebook", method="type:fb-new-thing")]),
                          catalog(), {}, Selection())
    assert result.files == ()
    [skipped] = result.skipped
    assert "has no method 'type:fb-new-thing' in the catalog" in skipped.reason


def test_the_stream_is_one_yaml_document_list_with_one_schema_line(tmp_path: Path) -> None:
    auths = [_auth(1, "TikTok"), _auth(2, "Pins", provider="pinterest", method="capi_token")]
    result = build_export(_snapshot(auths), catalog(), {}, Selection())
    text = stream_text(result, PROVENANCE)
    assert text.count("yaml-language-server") == 1
    documents = [d for d in yaml.safe_load_all(text) if d]
    assert [d["metadata"]["name"] for d in documents] == ["pins", "tiktok"]


def test_a_large_provider_is_split_into_files_under_the_size_cap_each_with_its_own_checklist(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_text, "PART_BYTES", 2_000)
    auths = [_auth(i, f"TikTok {i:03d}") for i in range(20)]
    jobs = [_job(i, f"events-{i:03d}", (auths[i].id,), config=TIKTOK_JOB) for i in range(20)]
    result = build_export(_snapshot(auths, jobs), catalog(), {}, Selection())
    files = render_files(result, PROVENANCE)
    assert [f.name for f in files[:3]] == ["tiktok.yaml", "tiktok-2.yaml", "tiktok-3.yaml"]
    assert sum(f.authorizations for f in files) == 20 and sum(f.jobs for f in files) == 20
    for f in files:
        body = f.text[f.text.index("\n---\n") + 1:]
        all_but_last = body[:body.rindex("---\n")]
        assert len(all_but_last.encode()) < 2_000  # a file ends after the document that takes it past the size
        variables = re.findall(r"^#   (AUTHCTL_\w+)", f.text, re.MULTILINE)
        assert sorted(variables) == sorted(re.findall(r"env: (AUTHCTL_\w+)", f.text))
    desired = _load_back(tmp_path, {f.name: f.text for f in files})
    assert len(desired.authorizations) == 20 and len(desired.jobs) == 20


def test_the_fast_dumper_writes_what_the_libyaml_safe_dumper_writes() -> None:
    documents = [{"apiVersion": "authctl/v1", "kind": "Job", "metadata": {"name": f"j{i}"},
                  "spec": {"label": text, "n": i, "ratio": i / 7, "on": i % 2 == 0, "none": None, "empty": {},
                           "list": [text, 1, None, {"k": text}], "nested": {"a": [1, 2], "b": {"c": [text]}},
                           "inf": float("inf"), "big": 10**30, "keys": {"123": 1, "null": 2, "yes": 3}}}
                 for i, text in enumerate(HOSTILE)]
    options = {"Dumper": yaml.CSafeDumper, "sort_keys": False, "allow_unicode": True, "default_flow_style": None,
               "width": yaml_text.WIDTH, "explicit_start": True}
    assert "".join(text for text, _ in yaml_text.dump_documents(documents)) == yaml.dump_all(documents, **options)
    assert yaml_text.dump_document(documents[0]) == yaml.dump(documents[0], **options)


def test_the_files_are_the_same_however_many_cpus_write_them(monkeypatch: pytest.MonkeyPatch) -> None:
    auths = [_auth(i, f"TikTok {i:03d}") for i in range(30)]
    jobs = [_job(i, f"events-{i:03d}", (auths[i].id,), config=TIKTOK_JOB) for i in range(30)]
    result = build_export(_snapshot(auths, jobs), catalog(), {}, Selection())
    monkeypatch.setattr(yaml_text, "CHUNK_DOCUMENTS", 7)
    alone = render_files(result, PROVENANCE)
    monkeypatch.setattr(yaml_text, "PARALLEL_MIN_DOCUMENTS", 0)  # (forks where this process can)
    assert render_files(result, PROVENANCE) == alone
    assert [f.name for f in alone][:2] == ["tiktok.yaml", "tiktok-2.yaml"] and len(alone) == 9
