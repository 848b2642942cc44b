"""Snapshot files (``authctl snapshot`` / ``plan --snapshot``), in process: what the file holds and never holds,
that a plan against it is the live plan minus the secrets, every way a file is refused, and how the plan says so.

The worlds are plan_fixtures' hand-built ones (state fingerprints made with the state's key from
the secrets of the last apply); the snapshot goes through a real file and back each time.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from plan_fixtures import BASE_ENV, CONTEXT, KEY, NOW, World, by_address, catalog, kinds

from reconciler.apply.staleness import refuse_snapshot_plan
from reconciler.durations import age_words, parse_duration
from reconciler.errors import SnapshotFileError, StalePlanError
from reconciler.live import Snapshot
from reconciler.manifest.fingerprints import canonical
from reconciler.manifest.secrets import SecretRef, fingerprint
from reconciler.plan import Plan
from reconciler.plan_file import read_plan_file, write_plan_file
from reconciler.planner import PlanInput, make_plan
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from reconciler.snapshot_file import (
    NOT_COMPARED,
    SavedSnapshot,
    build_saved_snapshot,
    check_snapshot_fits,
    fingerprints_without_secrets,
    read_snapshot_file,
    snapshot_document,
    snapshot_json,
)
from reconciler.state.records import StateMeta
from reconciler.vocabulary import ObjectKind
from reconciler.workspace import Workspace, load_workspace

CANARY = "CANARY-snapshot-3f9c1e77"  # a secret of the last apply: never in a snapshot file
WEEK = 7 * 86400.0


def _workspace(root: Path, settings: str = "name: snap-tests\n", env: str | None = None) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    (root / "authctl.yaml").write_text(settings, encoding="utf-8")
    return load_workspace(root, env)


def _world() -> World:
    """fb-main in sync (its token is the canary), a job on it, fb-old with an unmanaged running job on it."""
    w = World()
    w.environ["FB_TOKEN"] = w.applied_environ["FB_TOKEN"] = CANARY
    w.auth("fb-main", label="Facebook Ads (main)")
    w.job("main-audiences", ["fb-main"], config={"segment_ids": ["high_value"]})
    w.auth("fb-old", label="Facebook old", credentials={"access_token": SecretRef("env", "FB_TOKEN_2")})
    w.unmanaged_job("made-in-the-ui", [w.live_id("fb-old")])
    return w


def _saved(w: World, workspace: Workspace, taken_at: datetime = NOW) -> SavedSnapshot:
    live = Snapshot(dict(w.live_auths), dict(w.live_jobs), dict(w.experiences), taken_at=taken_at)
    meta = StateMeta(CONTEXT.state_lineage or "", CONTEXT.state_serial, "snap-tests", 1)
    return build_saved_snapshot(workspace, live, meta, dict(w.managed), KEY, taken_at)


def _through_a_file(saved: SavedSnapshot, path: Path) -> SavedSnapshot:
    path.write_text(snapshot_json(saved), encoding="utf-8")
    return read_snapshot_file(path)


def _offline_plan(w: World, saved: SavedSnapshot) -> Plan:
    """What Session.plan does for ``plan --snapshot``: everything from the file, no secret read."""
    desired = w.desired_state()
    return make_plan(PlanInput(
        desired=desired, snapshot=saved.live, managed=saved.managed,
        fingerprints=fingerprints_without_secrets(desired, saved.config_fingerprint_key), catalog=catalog(),
        context=CONTEXT, now=NOW, expiry_warning_days=14))


# -- what the file holds, and never holds ------------------------------------------------------------------
def test_the_file_holds_no_secret_no_state_key_and_no_credential_fingerprint(tmp_path: Path) -> None:
    w = _world()
    state_fingerprints = [d for obj in w.managed.values() for p, d in obj.fingerprints.items()
                          if p.startswith("credentials.")]
    assert len(state_fingerprints) == 2  # (what could leak: the state's own digests of both tokens)
    path = tmp_path / "live.json"
    saved = _through_a_file(_saved(w, _workspace(tmp_path / "ws")), path)
    text = path.read_text(encoding="utf-8")
    for forbidden in (CANARY, BASE_ENV["FB_TOKEN_2"], KEY.hex(), base64.b64encode(KEY).decode(),
                      *state_fingerprints):
        assert forbidden not in text
    managed = {m["name"]: m for m in json.loads(text)["managed"]}
    assert managed["fb-main"]["credentials"] == ["access_token"]  # the name only: a removed one still shows
    assert set(managed["fb-main"]) >= {"config_fingerprints", "applied", "live_id"}
    assert saved.managed[(ObjectKind.AUTHORIZATION, "fb-main")].live_id == w.live_id("fb-main")


def test_config_fingerprints_are_rekeyed_only_when_state_proves_the_applied_value(tmp_path: Path) -> None:
    w = _world()
    applied = w.managed[(ObjectKind.AUTHORIZATION, "fb-main")]
    saved = _through_a_file(_saved(w, _workspace(tmp_path / "ws")), tmp_path / "live.json")
    key = saved.config_fingerprint_key
    assert key != KEY and len(key) == 32
    value = canonical(applied.applied["config"]["ads_account_id"])
    assert saved.managed[(ObjectKind.AUTHORIZATION, "fb-main")].fingerprints["config.ads_account_id"] == \
        fingerprint(key, value)

    # State's digest is not the applied value's (a damaged or hand-edited record): it matches nothing.
    forged = {**applied.fingerprints, "config.ads_account_id": fingerprint(KEY, canonical("act_other"))}
    w.managed[(ObjectKind.AUTHORIZATION, "fb-main")] = replace(applied, fingerprints=forged)
    unproven = _through_a_file(_saved(w, _workspace(tmp_path / "ws")), tmp_path / "live2.json")
    digest = unproven.managed[(ObjectKind.AUTHORIZATION, "fb-main")].fingerprints["config.ads_account_id"]
    assert digest not in (fingerprint(unproven.config_fingerprint_key, value), forged["config.ads_account_id"])
    assert kinds(_offline_plan(w, unproven)) == {"Authorization/fb-main": "replace", "Job/main-audiences": "update"}


def test_live_objects_and_state_records_read_back_unchanged(tmp_path: Path) -> None:
    w = _world()
    w.experience("Spring campaign", [w.live_id("fb-main")])
    hostile = "Ads \u202e\x1b[31m\ud800 (edited in the UI)"  # bidi, an escape sequence, a lone surrogate
    w.live_auths[w.live_id("fb-old")] = replace(w.live_auths[w.live_id("fb-old")], label=hostile)
    saved = _saved(w, _workspace(tmp_path / "ws"))
    back = _through_a_file(saved, tmp_path / "live.json")
    assert back.live.authorizations == saved.live.authorizations
    assert back.live.authorizations[w.live_id("fb-old")].label == hostile
    assert (tmp_path / "live.json").read_text(encoding="utf-8").isascii()
    assert back.live.jobs == saved.live.jobs
    assert back.live.experiences == saved.live.experiences
    assert back.meta is not None and saved.meta is not None and back.taken_at == NOW
    assert (back.meta.lineage, back.meta.serial) == (saved.meta.lineage, saved.meta.serial) == \
        (CONTEXT.state_lineage, CONTEXT.state_serial)
    assert {k: (o.live_id, o.applied, o.applied_at) for k, o in back.managed.items()} == \
        {k: (o.live_id, o.applied, o.applied_at) for k, o in saved.managed.items()}
    assert (back.identity.name, back.identity.environment) == ("snap-tests", None)
    assert back.source == "local .authctl/platform.db" and back.file == tmp_path / "live.json"


# -- a plan against it is the live plan, secrets not compared ----------------------------------------------
@pytest.mark.parametrize("change", ["none", "config", "label", "removed", "job-paused"])
def test_a_plan_against_the_snapshot_is_the_live_plan(tmp_path: Path, change: str) -> None:
    w = _world()
    if change == "config":
        w.authorizations["fb-main"] = replace(w.authorizations["fb-main"], config={"ads_account_id": "act_999"})
    elif change == "label":
        w.authorizations["fb-main"] = replace(w.authorizations["fb-main"], label="Facebook Ads (renamed)")
    elif change == "removed":
        del w.authorizations["fb-old"]
    elif change == "job-paused":
        w.jobs["main-audiences"] = replace(w.jobs["main-audiences"], state="paused")
    saved = _through_a_file(_saved(w, _workspace(tmp_path / "ws")), tmp_path / "live.json")
    live, offline = w.plan(), _offline_plan(w, saved)
    assert kinds(offline) == kinds(live)
    assert [a.changes for a in offline.actions] == [a.changes for a in live.actions]
    assert [a.blocked_by for a in offline.actions] == [a.blocked_by for a in live.actions]
    assert offline.noop_count == live.noop_count
    not_compared = [x for x in offline.warnings if x.rule == "not-compared"]
    assert len(not_compared) == 1 and NOT_COMPARED in not_compared[0].message


def test_a_rotated_secret_is_not_compared_and_no_secret_is_read(tmp_path: Path) -> None:
    w = _world()
    saved = _through_a_file(_saved(w, _workspace(tmp_path / "ws")), tmp_path / "live.json")
    w.environ["FB_TOKEN"] = "rotated-since"  # the live plan replaces; the snapshot cannot know
    assert kinds(w.plan())["Authorization/fb-main"] == "replace"
    assert "Authorization/fb-main" not in kinds(_offline_plan(w, saved))
    # A new authorization: its secret is "not compared", though it is right there in the environment.
    w.auth("fb-new", label="Facebook new", live=False, managed=False)
    fps = fingerprints_without_secrets(w.desired_state(), saved.config_fingerprint_key)
    assert fps["fb-new"].credentials["access_token"].fingerprint is None
    assert fps["fb-new"].credentials["access_token"].unavailable == NOT_COMPARED
    [change] = [c for c in by_address(_offline_plan(w, saved))["Authorization/fb-new"].changes
                if c.path.startswith("credentials.")]
    assert change.note == f"not compared: {NOT_COMPARED}" and change.sensitive


def test_a_removed_credential_still_shows(tmp_path: Path) -> None:
    w = _world()
    saved = _through_a_file(_saved(w, _workspace(tmp_path / "ws")), tmp_path / "live.json")
    w.authorizations["fb-main"] = replace(w.authorizations["fb-main"], credentials={})
    assert kinds(_offline_plan(w, saved))["Authorization/fb-main"] == kinds(w.plan())["Authorization/fb-main"] \
        == "replace"


# -- files that are refused ------------------------------------------------------------------------------------
def _valid_document(tmp_path: Path) -> dict[str, Any]:
    return snapshot_document(_saved(_world(), _workspace(tmp_path / "ws")))


def _refusal(path: Path) -> str:
    with pytest.raises(SnapshotFileError) as caught:
        read_snapshot_file(path)
    return caught.value.message


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["authorizations"][0].update(label=12), "authorizations[0].label: expected a string"),
    (lambda d: d["jobs"][0].update(status="stopped"), "jobs[0].status: must be one of"),
    (lambda d: d["managed"][0].pop("live_id"), "managed[0].live_id: missing"),
    (lambda d: d.update(taken_at="2026-11-26T09:00:00"), "taken_at: expected a date and time with its time zone"),
    (lambda d: d["state"].update(serial=-1), "state.serial: must not be negative"),
    (lambda d: d.pop("workspace"), "workspace: missing"),
    (lambda d: d.update(config_fingerprint_key="not base64!"), "config_fingerprint_key: not base64"),
], ids=["wrong-type", "bad-status", "missing-field", "naive-time", "negative-serial", "no-workspace", "bad-key"])
def test_a_damaged_file_names_the_file_and_the_field(tmp_path: Path, edit: Any, expected: str) -> None:
    data = _valid_document(tmp_path)
    edit(data)
    path = tmp_path / "live.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    message = _refusal(path)
    assert message.startswith(f"snapshot file {path} is not a valid authctl snapshot: {expected}"), message


def test_files_that_are_not_snapshots(tmp_path: Path) -> None:
    path = tmp_path / "live.json"
    assert _refusal(path) == f"{path}: snapshot file not found"
    path.write_text('{"kind": "authctl-snapshot",\n  oops}', encoding="utf-8")
    assert _refusal(path).startswith(f"snapshot file {path} is not a valid authctl snapshot: line 2: not JSON (")
    path.write_bytes(b"\xff\xfe{}")
    assert _refusal(path).endswith("not UTF-8 text")
    path.write_text(json.dumps({"kind": "authctl-plan", "format_version": "1"}), encoding="utf-8")
    assert _refusal(path).startswith(f"{path}: not an authctl snapshot file")
    path.write_text(json.dumps({"kind": "authctl-snapshot", "format_version": "9"}), encoding="utf-8")
    assert _refusal(path) == f"{path}: snapshot format '9' is not supported (this authctl reads '1')"
    assert "is a folder, not a regular file" in _refusal(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.json"
        os.mkfifo(fifo)
        assert "FIFO" in _refusal(fifo)  # (refused without blocking)


# -- does it fit this plan? --------------------------------------------------------------------------------------
def _fits(saved: SavedSnapshot, workspace: Workspace, now: datetime = NOW, max_age: float = WEEK,
          text: str = "7d") -> str:
    with pytest.raises(SnapshotFileError) as caught:
        check_snapshot_fits(saved, Path("live.json"), workspace, now, max_age, text)
    return f"{caught.value.message} | {caught.value.hint}"


def test_another_workspace_or_environment_is_refused_naming_both(tmp_path: Path) -> None:
    envs = "name: snap-tests\nenvironments: {prod: {}, staging: {}}\n"
    prod = _workspace(tmp_path / "ws", envs, "prod")
    saved = _saved(_world(), prod)
    check_snapshot_fits(saved, Path("live.json"), prod, NOW + timedelta(hours=3), WEEK, "7d")  # fits: no error
    # A named workspace may be checked out anywhere (the fork's CI): same name, other folder, fits.
    check_snapshot_fits(saved, Path("live.json"), _workspace(tmp_path / "elsewhere", envs, "prod"), NOW, WEEK, "7d")

    said = _fits(saved, _workspace(tmp_path / "ws", envs, "staging"))
    assert "snapshot file live.json was taken for workspace 'snap-tests', environment 'prod', and this plan is " \
           "for workspace 'snap-tests', environment 'staging'" in said
    assert "plan with --env prod" in said and "authctl snapshot --env staging -o FILE" in said
    said = _fits(saved, _workspace(tmp_path / "other", "name: other-team\nenvironments: {prod: {}}\n", "prod"))
    assert "taken for workspace 'snap-tests', environment 'prod', and this plan is for workspace 'other-team', " \
           "environment 'prod'" in said

    unnamed = _saved(_world(), _workspace(tmp_path / "a", ""))
    said = _fits(unnamed, _workspace(tmp_path / "b", ""))
    assert f"the unnamed workspace at {tmp_path / 'a'}, no environment" in said
    assert f"the unnamed workspace at {tmp_path / 'b'}, no environment" in said
    assert "name the workspace (`name:` in authctl.yaml)" in said


def test_another_platform_is_refused(tmp_path: Path) -> None:
    saved = _saved(_world(), _workspace(tmp_path / "ws"))
    lytics = _workspace(tmp_path / "ws", "name: snap-tests\nbackend: {kind: lytics, url: 'http://127.0.0.1:9'}\n")
    said = _fits(saved, lytics)
    assert "taken from the local backend .authctl/platform.db, and this workspace's backend is the lytics " \
           "backend http://127.0.0.1:9" in said


def test_a_snapshot_older_than_the_limit_is_refused_with_its_age_and_the_limit(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws")
    saved = _saved(_world(), workspace, taken_at=NOW - timedelta(days=8, hours=1))
    said = _fits(saved, workspace, NOW)
    assert "snapshot file live.json was taken 8 days ago (2025-02-21 11:00 UTC), more than --max-snapshot-age 7d " \
           "allows" in said
    assert "authctl snapshot -o FILE" in said
    check_snapshot_fits(saved, Path("live.json"), workspace, NOW, parse_duration("9d"), "9d")  # a wider limit: fits
    future = _saved(_world(), workspace, taken_at=NOW + timedelta(hours=1))
    assert "which is in the future" in _fits(future, workspace, NOW)
    check_snapshot_fits(_saved(_world(), workspace, taken_at=NOW + timedelta(minutes=2)), Path("x"), workspace,
                        NOW, WEEK, "7d")  # (two CI machines' clocks: a little skew is fine)


def test_backend_identity_never_holds_a_credential(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path / "ws", "name: snap-tests\nbackend: {kind: local, path: "
                                            "'postgresql+psycopg://ops:hunter2@db.internal:5432/platform?sslmode=x'}\n")
    saved = _saved(_world(), workspace)
    assert saved.source == "local postgresql+psycopg://db.internal:5432/platform"
    assert "hunter2" not in json.dumps(snapshot_document(saved)) and "ops" not in saved.source


# -- how the plan says so --------------------------------------------------------------------------------------
def _snapshot_plan(w: World, saved: SavedSnapshot, now: datetime) -> Plan:
    plan = _offline_plan(w, saved)
    return replace(plan, context=replace(plan.context, snapshot=saved.origin(now)))


def test_every_format_states_the_snapshot_age_and_apply_refuses_the_plan(tmp_path: Path) -> None:
    w = _world()
    del w.authorizations["fb-old"]
    saved = _through_a_file(_saved(w, _workspace(tmp_path / "ws"), taken_at=NOW - timedelta(hours=3)),
                            tmp_path / "live.json")
    plan = _snapshot_plan(w, saved, NOW)
    sentence = "Planned against a snapshot taken 3 hours ago (2025-03-01 09:00 UTC); secrets not compared."
    text = render_text(plan)
    lines = [getattr(r, "plain", "") for r in text.renderables]  # type: ignore[attr-defined]
    assert lines[:2] == [plan.summary_line(), sentence]
    markdown = render_markdown(plan)
    assert markdown.splitlines()[2:5] == [f"**{plan.summary_line()}**", "", f"_{sentence}_"]
    assert "snapshot of `local .authctl/platform.db`" in markdown
    origin = json.loads(render_json(plan))["context"]["snapshot"]
    assert origin == {"file": str(tmp_path / "live.json"), "taken_at": "2025-03-01T09:00:00Z", "age_seconds": 10800,
                      "source": "local .authctl/platform.db", "secrets_compared": False,
                      "summary": "planned against a snapshot taken 3 hours ago (2025-03-01 09:00 UTC); "
                                 "secrets not compared"}
    assert "snapshot" not in json.loads(render_json(w.plan()))["context"]  # a live plan's document is unchanged

    saved_plan = tmp_path / "plan.json"
    write_plan_file(saved_plan, plan)
    back = read_plan_file(saved_plan)
    assert back.context.snapshot == plan.context.snapshot
    with pytest.raises(StalePlanError) as caught:
        refuse_snapshot_plan(back, f"plan file {saved_plan}")
    assert caught.value.message.startswith(f"plan file {saved_plan} was made against the snapshot "
                                           f"{tmp_path / 'live.json'} taken 2025-03-01 09:00 UTC, not against the "
                                           "platform, so it is not applied")
    refuse_snapshot_plan(w.plan())  # a live plan: no refusal


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("30m", 1800), ("24h", 86400),
                                               ("7d", 604800), (" 1.5h ", 5400), ("2D", 172800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1y", "-1d", "d", "1 week", "7 days"])
def test_a_duration_that_is_not_one_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration: a number with s, m, h or d"):
        parse_duration(text)


def test_ages_read_as_people_say_them() -> None:
    assert [age_words(s) for s in (0, 1, 119, 120, 3599, 7199, 7200, 47 * 3600, 48 * 3600, 8 * 86400 + 5)] == [
        "0 seconds", "1 second", "119 seconds", "2 minutes", "59 minutes", "119 minutes", "2 hours", "47 hours",
        "2 days", "8 days"]
