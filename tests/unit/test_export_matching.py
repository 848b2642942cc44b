"""import --all-matching (reconciler/export/matching.py) and how the planner treats what an import records.

An adopted authorization's secrets are unknown until a person supplies them: the plan must
not replace it for that, must say what to supply, and must compare once an import recorded it.
"""

from __future__ import annotations

from plan_fixtures import KEY, NOW, ROOT, World, by_address, desired_auth

from reconciler.export.matching import imported_record, match_all, unrecorded_fields
from reconciler.live import LiveAuthorization, LiveJob
from reconciler.manifest.fingerprints import fingerprint_authorization, fingerprint_desired
from reconciler.plan import ActionKind
from reconciler.state.records import ManagedObject
from reconciler.vocabulary import ObjectKind

AUTH, JOB = ObjectKind.AUTHORIZATION, ObjectKind.JOB


def _adopted(w: World, name: str, *, environ: dict[str, str] | None = None, **spec: object) -> LiveAuthorization:
    """``name`` desired and live, recorded by an import that saw ``environ`` (default: no secret at all)."""
    d = w.auth(name, managed=False, **spec)  # type: ignore[arg-type]
    live = next(a for a in w.live_auths.values() if a.label == d.label)
    fps = fingerprint_authorization(d, KEY, ROOT, environ or {})
    w.managed[(AUTH, name)] = imported_record(AUTH, name, live, NOW, desired=d, fps=fps)
    return live


def _warnings(w: World) -> dict[str, str]:
    return {warning.rule: warning.message for warning in w.plan().warnings}


def test_an_adopted_authorization_without_its_secret_is_not_replaced_and_the_plan_says_what_to_supply() -> None:
    w = World()
    _adopted(w, "fb")
    w.job("aud", ["fb"])
    w.environ.pop("FB_TOKEN")  # as right after an export: the variable is not set
    plan = w.plan()
    assert plan.actions == () and plan.noop_count == 2
    warnings = _warnings(w)
    assert set(warnings) == {"secret-not-recorded"}  # (not also the generic "not compared" line)
    assert "1 imported authorization has secrets authctl has not recorded" in warnings["secret-not-recorded"]
    assert "supply FB_TOKEN, then run `authctl import --all-matching`" in warnings["secret-not-recorded"]


def test_a_secret_supplied_after_the_import_is_still_not_compared_until_an_import_records_it() -> None:
    w = World()
    _adopted(w, "fb")
    w.environ["FB_TOKEN"] = "whatever-is-set-now"
    plan = w.plan()
    assert plan.actions == ()
    assert "Authorization/fb credentials.access_token" in _warnings(w)["value-not-recorded"]
    # The import records it: from then on a different value is a rotation, as for any applied object.
    d = w.authorizations["fb"]
    live = w.live_auths[w.managed[(AUTH, "fb")].live_id]
    fps = fingerprint_authorization(d, KEY, ROOT, w.environ)
    w.managed[(AUTH, "fb")] = imported_record(AUTH, "fb", live, NOW, desired=d, fps=fps,
                                              previous=w.managed[(AUTH, "fb")])
    assert w.plan().actions == () and _warnings(w) == {}
    w.environ["FB_TOKEN"] = "rotated-later"
    assert by_address(w.plan())["Authorization/fb"].kind is ActionKind.REPLACE


def test_an_import_records_config_so_a_later_config_change_is_a_replace() -> None:
    w = World()
    _adopted(w, "fb", environ={"FB_TOKEN": "fb-token-v1"})
    assert w.plan().actions == () and _warnings(w) == {}
    w.authorizations["fb"] = desired_auth("fb", config={"ads_account_id": "act_999999"})
    assert by_address(w.plan())["Authorization/fb"].kind is ActionKind.REPLACE


def test_what_an_import_recorded_before_is_kept_when_it_records_again() -> None:
    d = desired_auth("fb")
    live = LiveAuthorization("a1", "facebook", "system_user", None, d.label, "")
    first = imported_record(AUTH, "fb", live, NOW, desired=d,
                            fps=fingerprint_authorization(d, KEY, ROOT, {"FB_TOKEN": "v1"}))
    again = imported_record(AUTH, "fb", live, NOW, desired=d,
                            fps=fingerprint_authorization(d, KEY, ROOT, {"FB_TOKEN": "v2"}), previous=first)
    assert again.fingerprints == first.fingerprints  # a rotation since stays visible
    assert unrecorded_fields(d, fingerprint_authorization(d, KEY, ROOT, {}), None) == ["credentials.access_token"]
    assert again.applied["imported"] is True and again.applied["config"] == d.config


def test_an_authorization_apply_created_still_replaces_on_a_missing_fingerprint() -> None:
    w = World()
    w.auth("fb")
    w.managed[(AUTH, "fb")] = ManagedObject(AUTH, "fb", w.live_id("fb"), {}, NOW, {"config": {}})  # by apply
    assert by_address(w.plan())["Authorization/fb"].kind is ActionKind.REPLACE


# -- matching ---------------------------------------------------------------------------------------
def _job(w: World, name: str, auth_id: str, *, status: str = "runnable") -> LiveJob:
    return w.unmanaged_job(name, [auth_id], status=status, workflow="facebook-audience-populate")


def _match(w: World, *, with_fingerprints: bool = False):  # type: ignore[no-untyped-def]
    desired = w.desired_state()
    fps = fingerprint_desired(desired, KEY, ROOT, w.environ) if with_fingerprints else None
    return match_all(desired, w.plan_input().snapshot, dict(w.managed), fps)


def test_authorizations_match_by_label_and_jobs_by_the_name_export_gives_them() -> None:
    w = World()
    w.auth("fb-ads", managed=False, label="Facebook Ads")
    live_id = next(iter(w.live_auths))
    w.job("weekly-export", ["fb-ads"], live=False, managed=False)
    w.job("sync", ["fb-ads"], live=False, managed=False)
    weekly = _job(w, "Weekly export!", live_id)
    sync = _job(w, "sync", live_id)
    _job(w, "sync", live_id, status="completed")  # finished jobs are never matched
    matches = _match(w)
    assert matches.ambiguities == () and matches.mismatches == ()
    assert [(a.address, a.live_id) for a in matches.adoptions] == [
        ("Authorization/fb-ads", live_id), ("Job/sync", sync.id), ("Job/weekly-export", weekly.id)]


def test_two_live_jobs_that_fit_one_manifest_are_an_ambiguity_naming_both_ids() -> None:
    w = World()
    w.auth("fb", managed=False)
    live_id = next(iter(w.live_auths))
    w.job("sync", ["fb"], live=False, managed=False)
    w.job("sync-2", ["fb"], live=False, managed=False)
    one, two = _job(w, "Sync", live_id), _job(w, "sync", live_id)
    matches = _match(w)
    [ambiguity] = matches.ambiguities
    assert ambiguity.names == ("sync", "sync-2")
    assert {i for i, _ in ambiguity.live} == {one.id, two.id}
    assert [a.address for a in matches.adoptions] == ["Authorization/fb"]


def test_a_label_match_with_another_method_is_reported_not_adopted() -> None:
    w = World()
    w.auth("fb", managed=False, label="Facebook")
    w.authorizations["fb"] = desired_auth("fb", method="user_oauth", label="Facebook", config={}, credentials={})
    matches = _match(w)
    assert matches.adoptions == ()
    [mismatch] = matches.mismatches
    assert "method 'system_user' (the manifest says 'user_oauth')" in mismatch.reason


def test_managed_objects_are_not_matched_and_imported_ones_with_a_new_secret_are_listed_to_record() -> None:
    w = World()
    w.auth("applied")  # managed by apply: never listed
    _adopted(w, "imported")
    w.environ["FB_TOKEN"] = "now-set"
    matches = _match(w, with_fingerprints=True)
    assert [(a.address, a.recording) for a in matches.adoptions] == [("Authorization/imported", True)]
    assert _match(w).adoptions == ()  # without fingerprints (no state store yet) nothing is recorded
