"""The pure planner, table-driven over hand-built fixtures (see plan_fixtures.World).

The first table pins *what* happens to every object for each case of issue 5 (the
whole action set, so an unexpected extra action fails too); the tests after it pin
the details a reviewer reads: field changes, blockers, instructions, warnings, order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from plan_fixtures import NOW, World, by_address, change_map, desired_auth, kinds

from reconciler.diff import KNOWN_AFTER_APPLY, SENSITIVE, SENSITIVE_ROTATED
from reconciler.manifest.secrets import SecretRef
from reconciler.plan import ActionKind, Blocker, Phase
from reconciler.planner import make_plan
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import render_markdown

ACTIVE = ["runnable", "sleeping", "paused", "initializing", "pausing", "resuming"]
INACTIVE = ["completed", "failed", "killed", "fault", "deleted"]


# -- the table -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[World], object]
    expect: dict[str, str]  # address -> "kind" or "kind BLOCKED"; every other object is a noop
    noops: int | None = None


def _rotate(w: World) -> None:
    w.auth("fb")
    w.environ["FB_TOKEN"] = "fb-token-v2"


def _replace_with_managed_job(w: World) -> None:
    _rotate(w)
    w.job("aud", ["fb"])


def _replace_with_unmanaged(status: str) -> Callable[[World], None]:
    def build(w: World) -> None:
        _replace_with_managed_job(w)
        w.unmanaged_job("someone-elses", [w.live_id("fb")], status=status)
    return build


def _replace_with_experience(w: World) -> None:
    _replace_with_managed_job(w)
    w.experience("imported-exp", [w.live_id("fb")])


def _removed(w: World) -> None:
    w.auth("fb", desired=False)


def _removed_used_by(status: str) -> Callable[[World], None]:
    def build(w: World) -> None:
        _removed(w)
        w.unmanaged_job(f"job-{status}", [w.live_id("fb")], status=status)
    return build


def _removed_used_by_experience(w: World) -> None:
    _removed(w)
    w.experience("exp", [w.live_id("fb")])


def _removed_with_managed_job_deleted(w: World) -> None:
    _removed(w)
    w.job("aud", ["fb"], desired=False)


def _removed_with_managed_job_rebound(w: World) -> None:
    w.auth("other")
    _removed(w)
    w.job("aud", ["other"], live_auth_ids=[w.live_id("fb")])


def _removed_with_managed_paused_job_rebound(w: World) -> None:
    w.auth("other")
    _removed(w)
    w.job("aud", ["other"], state="paused", live_auth_ids=[w.live_id("fb")])


def _removed_with_managed_job_replaced(w: World) -> None:
    w.auth("other")
    _removed(w)
    w.job("aud", ["other"], workflow="facebook-conversion-api", live_auth_ids=[w.live_id("fb")],
          live_overrides={"workflow": "facebook-audience-populate"})


def _with_unmanaged(w: World) -> None:
    w.auth("fb")
    theirs = w.unmanaged_auth("Someone else's")
    w.unmanaged_job("theirs", [theirs.id])
    w.unmanaged_job("also-theirs", [w.live_id("fb")], status="completed")


def _applied_as(**spec: object) -> Callable[[World], None]:
    def build(w: World) -> None:
        w.auth("fb", applied=desired_auth("fb", **spec))  # type: ignore[arg-type]
    return build


CASES = [
    Case("create", lambda w: (w.auth("fb", live=False, managed=False), w.job("aud", ["fb"], live=False, managed=False)),
         {"Authorization/fb": "create", "Job/aud": "create"}, noops=0),
    Case("in-sync-is-noop", lambda w: (w.auth("fb"), w.job("aud", ["fb"])), {}, noops=2),
    Case("label-update", _applied_as(label="Old label"), {"Authorization/fb": "update"}),
    Case("description-update", _applied_as(description="old words"), {"Authorization/fb": "update"}),
    Case("label-drift-put-back", lambda w: w.auth("fb", live_overrides={"label": "edited in the UI"}),
         {"Authorization/fb": "update"}),
    Case("job-paused-outside-resumed", lambda w: (w.auth("fb"), w.job("aud", ["fb"], status="paused")),
         {"Job/aud": "update"}),
    Case("replace-on-provider-change", _applied_as(provider="tiktok", method="events_token",
                                                    credentials={"token": SecretRef("env", "FB_TOKEN")}),
         {"Authorization/fb": "replace"}),
    Case("replace-on-method-change",
         lambda w: w.auth("gcp", provider="google_cloud", method="pubsub_service_account",
                          applied=desired_auth("gcp", provider="google_cloud", method="gcs_service_account",
                                               credentials={"cert_json": SecretRef("env", "GCP_KEY")})),
         {"Authorization/gcp": "replace"}),
    Case("replace-on-config-change", _applied_as(config={"ads_account_id": "act_5555555555"}),
         {"Authorization/fb": "replace"}),
    Case("replace-on-credential-rotation", _rotate, {"Authorization/fb": "replace"}),
    Case("replace-on-credential-reference-change",
         lambda w: w.auth("fb", credentials={"access_token": SecretRef("env", "FB_TOKEN_2")},
                          applied=desired_auth("fb")),
         {"Authorization/fb": "replace"}),
    Case("replace-rebinds-managed-jobs", _replace_with_managed_job,
         {"Authorization/fb": "replace", "Job/aud": "update"}),
    *[Case(f"replace-old-delete-blocked-by-unmanaged-{s}-job", _replace_with_unmanaged(s),
           {"Authorization/fb": "replace BLOCKED", "Job/aud": "update"}) for s in ("runnable", "paused")],
    Case("replace-old-delete-blocked-by-experience", _replace_with_experience,
         {"Authorization/fb": "replace BLOCKED", "Job/aud": "update"}),
    Case("replace-not-blocked-by-completed-unmanaged-job", _replace_with_unmanaged("completed"),
         {"Authorization/fb": "replace", "Job/aud": "update"}),
    Case("delete-removed-from-manifests", _removed, {"Authorization/fb": "delete"}),
    *[Case(f"delete-blocked-by-{s}-job", _removed_used_by(s), {"Authorization/fb": "delete BLOCKED"})
      for s in ACTIVE],
    Case("delete-blocked-by-experience", _removed_used_by_experience, {"Authorization/fb": "delete BLOCKED"}),
    *[Case(f"delete-not-blocked-by-{s}-job", _removed_used_by(s), {"Authorization/fb": "delete"})
      for s in INACTIVE],
    Case("delete-not-blocked-when-plan-deletes-the-job", _removed_with_managed_job_deleted,
         {"Authorization/fb": "delete", "Job/aud": "delete"}),
    Case("delete-not-blocked-when-plan-rebinds-the-job", _removed_with_managed_job_rebound,
         {"Authorization/fb": "delete", "Job/aud": "update"}),
    Case("delete-not-blocked-when-plan-rebinds-a-paused-job", _removed_with_managed_paused_job_rebound,
         {"Authorization/fb": "delete", "Job/aud": "update"}),
    Case("delete-not-blocked-when-plan-replaces-the-job", _removed_with_managed_job_replaced,
         {"Authorization/fb": "delete", "Job/aud": "replace"}),
    Case("job-create", lambda w: (w.auth("fb"), w.job("aud", ["fb"], live=False, managed=False)),
         {"Job/aud": "create"}),
    Case("job-config-update",
         lambda w: (w.auth("fb"), w.job("aud", ["fb"], config={"segment_ids": ["a", "b"]},
                                        live_overrides={"config": {"segment_ids": ["a"]}})),
         {"Job/aud": "update"}),
    Case("job-rebind", lambda w: (w.auth("fb"), w.auth("fb2"), w.job("aud", ["fb2"], live_auth_ids=[w.live_id("fb")])),
         {"Job/aud": "update"}),
    Case("job-pause", lambda w: (w.auth("fb"), w.job("aud", ["fb"], state="paused", status="runnable")),
         {"Job/aud": "update"}),
    Case("job-resume", lambda w: (w.auth("fb"), w.job("aud", ["fb"], status="paused")), {"Job/aud": "update"}),
    Case("job-delete", lambda w: (w.auth("fb"), w.job("aud", ["fb"], desired=False)), {"Job/aud": "delete"}),
    Case("job-workflow-change-is-replace",
         lambda w: (w.auth("fb"), w.job("aud", ["fb"], workflow="facebook-conversion-api",
                                        live_overrides={"workflow": "facebook-audience-populate"})),
         {"Job/aud": "replace"}),
    Case("in-state-gone-from-platform-recreated",
         lambda w: (w.auth("fb", live=False), w.job("aud", ["fb"], live=False)),
         {"Authorization/fb": "create", "Job/aud": "create"}),
    Case("job-soft-deleted-on-platform-recreated",
         lambda w: (w.auth("fb"), w.job("aud", ["fb"], status="deleted")), {"Job/aud": "create"}),
    Case("unmanaged-live-objects-untouched", _with_unmanaged, {}, noops=1),
    Case("reauthorize-unhealthy-oauth",
         lambda w: w.auth("fbo", method="user_oauth", live_overrides={"health": "unhealthy"}),
         {"Authorization/fbo": "reauthorize"}),
    Case("healthy-oauth-is-noop", lambda w: w.auth("fbo", method="user_oauth"), {}, noops=1),
    Case("unknown-health-oauth-is-noop",
         lambda w: w.auth("fbo", method="user_oauth", live_overrides={"health": "unknown"}), {}, noops=1),
    Case("oauth-not-existing-needs-login",
         lambda w: (w.auth("gads", provider="google_ads", method="oauth", live=False, managed=False),
                    w.job("cm", ["gads"], workflow="adwords-customer-match", live=False, managed=False)),
         {"Authorization/gads": "reauthorize", "Job/cm": "create"}),
    Case("label-clash-with-unmanaged-blocks-create",
         lambda w: (w.unmanaged_auth("Facebook Ads"), w.auth("fb", label="Facebook Ads", live=False, managed=False)),
         {"Authorization/fb": "create BLOCKED"}),
    Case("label-clash-is-case-insensitive",
         lambda w: (w.unmanaged_auth("FACEBOOK ads"), w.auth("fb", label="Facebook Ads", live=False, managed=False)),
         {"Authorization/fb": "create BLOCKED"}),
    Case("label-held-by-managed-auth-being-deleted-is-no-clash",
         lambda w: (w.auth("old", label="Facebook Ads", desired=False),
                    w.auth("new", label="Facebook Ads", live=False, managed=False)),
         {"Authorization/new": "create", "Authorization/old": "delete"}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_cases(case: Case) -> None:
    w = World()
    case.build(w)
    plan = w.plan()
    assert kinds(plan) == case.expect
    if case.noops is not None:
        assert plan.noop_count == case.noops
    assert plan.has_blocked == any("BLOCKED" in v for v in case.expect.values())
    assert plan.has_changes == bool(case.expect)


# -- create, update, drift -------------------------------------------------------------------

def test_create_lists_every_field_and_a_sensitive_placeholder() -> None:
    w = World()
    w.auth("fb", description="prod account", live=False, managed=False)
    action = by_address(w.plan())["Authorization/fb"]
    assert action.phase is Phase.CREATE_AUTHORIZATIONS and action.live_id is None
    assert change_map(action) == {
        "provider": (None, "facebook"), "method": (None, "system_user"), "label": (None, "Label of fb"),
        "description": (None, "prod account"), "config.ads_account_id": (None, "act_1234567890"),
        "credentials.access_token": (None, SENSITIVE),
    }
    secret = next(c for c in action.changes if c.path == "credentials.access_token")
    assert secret.sensitive and not secret.note


def test_job_create_depends_on_the_authorization_it_waits_for() -> None:
    w = World()
    w.auth("fb", live=False, managed=False)
    w.job("aud", ["fb"], config={"segment_ids": ["vip"]}, live=False, managed=False)
    job = by_address(w.plan())["Job/aud"]
    assert job.depends_on == ("Authorization/fb",)
    assert change_map(job) == {"workflow": (None, "facebook-audience-populate"),
                               "authorizations": (None, [f"fb {KNOWN_AFTER_APPLY}"]),
                               "state": (None, "running"), "config.segment_ids": (None, ["vip"])}


def test_job_bound_to_existing_authorization_gets_its_live_id() -> None:
    w = World()
    w.auth("fb")
    w.job("aud", ["fb"], live=False, managed=False)
    job = by_address(w.plan())["Job/aud"]
    assert change_map(job)["authorizations"] == (None, [w.live_id("fb")])
    assert job.depends_on == ()


@pytest.mark.parametrize(("field", "old", "new"), [("label", "Old label", "Label of fb"),
                                                    ("description", "old words", "new words")])
def test_in_place_update_shows_before_and_after(field: str, old: str, new: str) -> None:
    w = World()
    w.auth("fb", description="new words", applied=desired_auth("fb", **{"description": "new words", field: old}))
    action = by_address(w.plan())["Authorization/fb"]
    assert action.kind is ActionKind.UPDATE
    assert change_map(action) == {field: (old, new)}
    assert action.preconditions and action.preconditions[0].id == w.live_id("fb")
    assert "label and description are edited in place" in action.reasons


def test_label_drift_is_put_back() -> None:
    w = World()
    w.auth("fb", live_overrides={"label": "edited in the UI"})
    action = by_address(w.plan())["Authorization/fb"]
    assert change_map(action) == {"label": ("edited in the UI", "Label of fb")}


@pytest.mark.parametrize(("status", "shown"), [("paused", "paused"), ("pausing", "pausing"),
                                                ("completed", "completed"), ("failed", "failed")])
def test_job_not_running_is_resumed(status: str, shown: str) -> None:
    w = World()
    w.auth("fb")
    w.job("aud", ["fb"], status=status)
    action = by_address(w.plan())["Job/aud"]
    assert change_map(action) == {"state": (shown, "running")}
    assert action.phase is Phase.APPLY_JOBS


@pytest.mark.parametrize("status", ["runnable", "sleeping", "initializing", "resuming"])
def test_running_like_statuses_need_no_resume(status: str) -> None:
    w = World()
    w.auth("fb")
    w.job("aud", ["fb"], status=status)
    assert w.plan().actions == ()


def test_pause_only_runs_in_the_retire_phase() -> None:
    w = World()
    w.auth("fb")
    w.job("aud", ["fb"], state="paused", status="runnable")
    action = by_address(w.plan())["Job/aud"]
    assert change_map(action) == {"state": ("running", "paused")}
    assert action.phase is Phase.RETIRE_JOBS


def test_job_config_update_names_nested_paths() -> None:
    w = World()
    w.auth("fb")
    w.job("aud", ["fb"], config={"segment_ids": ["a", "b"], "mode": {"full": True}},
          live_overrides={"config": {"segment_ids": ["a"], "mode": {"full": False}}})
    action = by_address(w.plan())["Job/aud"]
    assert change_map(action) == {"config.segment_ids[1]": (None, "b"), "config.mode.full": (False, True)}


# -- replace ----------------------------------------------------------------------------------

def test_rotation_shows_sensitive_then_rotated_and_never_a_value() -> None:
    w = World()
    _rotate(w)
    plan = w.plan()
    action = by_address(plan)["Authorization/fb"]
    assert action.kind is ActionKind.REPLACE
    (change,) = action.changes
    assert (change.path, change.before, change.after, change.sensitive) == (
        "credentials.access_token", SENSITIVE, SENSITIVE_ROTATED, True)
    assert "credentials changed (immutable on the platform)" in action.reasons
    out = render_json(plan) + render_markdown(plan)
    assert "fb-token-v1" not in out and "fb-token-v2" not in out and "hmac-sha256" not in out


def test_config_change_shows_applied_value_and_replaces() -> None:
    w = World()
    w.auth("fb", applied=desired_auth("fb", config={"ads_account_id": "act_5555555555"}))
    action = by_address(w.plan())["Authorization/fb"]
    assert change_map(action) == {"config.ads_account_id": ("act_5555555555", "act_1234567890")}
    assert any("config changed" in r for r in action.reasons)


def test_provider_change_lists_provider_and_method() -> None:
    w = World()
    w.auth("fb", applied=desired_auth("fb", provider="tiktok", method="events_token",
                                      credentials={"token": SecretRef("env", "FB_TOKEN")}))
    action = by_address(w.plan())["Authorization/fb"]
    changes = change_map(action)
    assert changes["provider"] == ("tiktok", "facebook")
    assert changes["method"] == ("events_token", "system_user")
    assert {"provider changed", "method changed"} <= set(action.reasons)


def test_replace_rebinds_managed_jobs_and_the_rebind_depends_on_the_new_authorization() -> None:
    w = World()
    _replace_with_managed_job(w)
    plan = w.plan()
    auth, job = by_address(plan)["Authorization/fb"], by_address(plan)["Job/aud"]
    assert auth.live_id == w.live_id("fb")  # the old one, deleted last
    assert job.depends_on == ("Authorization/fb",)
    assert change_map(job) == {"authorizations": (["fb"], [f"fb {KNOWN_AFTER_APPLY}"])}
    assert not auth.blocked


def test_replace_blocked_names_exactly_which_and_why() -> None:
    w = World()
    _replace_with_managed_job(w)
    old = w.live_id("fb")
    theirs = w.unmanaged_job("someone-elses", [old], status="sleeping")
    exp = w.experience("imported-exp", [old])
    action = by_address(w.plan())["Authorization/fb"]
    assert action.blocked_by == (
        Blocker("experience", "imported-exp", exp.id, "imported", False),
        Blocker("job", "someone-elses", theirs.id, "sleeping", False),
    )
    assert any("the old authorization cannot be deleted" in r for r in action.reasons)


# -- delete and the guard ----------------------------------------------------------------------

def test_delete_of_removed_authorization() -> None:
    w = World()
    _removed(w)
    action = by_address(w.plan())["Authorization/fb"]
    assert action.kind is ActionKind.DELETE and action.phase is Phase.DELETE_AUTHORIZATIONS
    assert action.live_id == w.live_id("fb")
    assert change_map(action) == {"label": ("Label of fb", None)}
    assert action.preconditions[0].kind == "authorization"


def test_blocked_delete_lists_every_reference_with_name_id_status_managed() -> None:
    w = World()
    _removed(w)
    fb = w.live_id("fb")
    jobs = {s: w.unmanaged_job(f"job-{s}", [fb], status=s) for s in [*ACTIVE, *INACTIVE]}
    exp = w.experience("exp", [fb])
    action = by_address(w.plan())["Authorization/fb"]
    expected = [Blocker("experience", "exp", exp.id, "imported", False)]
    expected += [Blocker("job", f"job-{s}", jobs[s].id, "running" if s == "runnable" else s, False) for s in ACTIVE]
    assert list(action.blocked_by) == sorted(expected, key=lambda b: (b.kind, b.name, b.id))
    as_json = [b.to_json() for b in action.blocked_by]
    assert all(set(b) == {"kind", "name", "id", "status", "managed"} for b in as_json)


def test_job_using_the_authorization_among_several_still_blocks() -> None:
    w = World()
    w.auth("keep")
    _removed(w)
    w.unmanaged_job("multi", [w.live_id("keep"), w.live_id("fb")])
    assert kinds(w.plan()) == {"Authorization/fb": "delete BLOCKED"}


def test_delete_waits_for_a_rebind_that_waits_for_a_login() -> None:
    """The rebind onto an OAuth connection nobody has logged into yet cannot happen in this
    apply, so the old authorization it still uses cannot be deleted either."""
    w = World()
    _removed(w)
    w.auth("gads", provider="facebook", method="user_oauth", live=False, managed=False)
    w.job("aud", ["gads"], live_auth_ids=[w.live_id("fb")])
    plan = w.plan()
    job = by_address(plan)["Job/aud"]
    assert job.waiting_for == ("Authorization/gads",)
    delete = by_address(plan)["Authorization/fb"]
    assert delete.blocked_by == (Blocker("job", "aud", w.live_id("aud", "Job"), "running", True),)


def test_delete_waits_for_a_rebind_onto_a_blocked_create() -> None:
    w = World()
    _removed(w)
    w.unmanaged_auth("Taken")
    w.auth("new", label="Taken", live=False, managed=False)
    w.job("aud", ["new"], live_auth_ids=[w.live_id("fb")])
    assert kinds(w.plan()) == {"Authorization/new": "create BLOCKED", "Job/aud": "update",
                               "Authorization/fb": "delete BLOCKED"}


def test_rebind_names_old_and_new_authorizations_and_why() -> None:
    w = World()
    w.auth("fb2", live=False, managed=False)
    _removed(w)
    w.job("aud", ["fb2"], live_auth_ids=[w.live_id("fb")])
    job = by_address(w.plan())["Job/aud"]
    assert change_map(job) == {"authorizations": (["fb"], [f"fb2 {KNOWN_AFTER_APPLY}"])}
    assert job.reasons == ("rebind: Authorization/fb2 created",)


def test_rebind_onto_an_existing_authorization() -> None:
    w = World()
    w.auth("fb")
    w.auth("fb2")
    w.job("aud", ["fb2"], live_auth_ids=[w.live_id("fb")])
    job = by_address(w.plan())["Job/aud"]
    assert change_map(job) == {"authorizations": (["fb"], [w.live_id("fb2")])}
    assert job.reasons == ("authorizations changed",) and job.depends_on == ()


def test_label_update_onto_a_label_held_by_an_unmanaged_authorization_is_blocked() -> None:
    w = World()
    theirs = w.unmanaged_auth("Taken")
    w.auth("fb", label="Taken", applied=desired_auth("fb", label="Mine"))
    action = by_address(w.plan())["Authorization/fb"]
    assert action.kind is ActionKind.UPDATE
    assert action.blocked_by == (Blocker("authorization", "Taken", theirs.id, "label already in use", False),)


def test_label_update_onto_a_label_this_plan_frees_waits_for_the_delete() -> None:
    w = World()
    w.auth("old", label="Taken", desired=False)
    w.auth("fb", label="Taken", applied=desired_auth("fb", label="Mine"))
    plan = w.plan()
    update, delete = by_address(plan)["Authorization/fb"], by_address(plan)["Authorization/old"]
    assert not update.blocked and update.depends_on == ("Authorization/old",)
    assert update.phase > delete.phase


def test_delete_of_object_already_gone_only_cleans_state() -> None:
    w = World()
    w.auth("fb", desired=False, live=False)
    w.job("aud", ["fb"], desired=False, live=False, live_auth_ids=[])
    plan = w.plan()
    assert kinds(plan) == {"Authorization/fb": "delete", "Job/aud": "delete"}
    assert all(a.forget_only and not a.preconditions for a in plan.actions)


# -- unmanaged and gone ------------------------------------------------------------------------

def test_in_state_but_gone_is_recreated_with_a_warning() -> None:
    w = World()
    w.auth("fb", live=False, live_id="auth-gone")
    plan = w.plan()
    action = by_address(plan)["Authorization/fb"]
    assert action.kind is ActionKind.CREATE and "in state but gone from the platform" in action.reasons
    assert any("Authorization/fb" in x and "auth-gone" in x and "gone from the platform" in x for x in (w.message for w in plan.warnings))


def test_unmanaged_objects_are_listed_and_never_acted_on() -> None:
    w = World()
    w.auth("fb")
    theirs = w.unmanaged_auth("Someone else's")
    job = w.unmanaged_job("their-job", [theirs.id])
    w.unmanaged_job("gone-job", [theirs.id], status="deleted")
    plan = w.plan()
    assert plan.actions == ()
    assert [(u.kind, u.id, u.name) for u in plan.unmanaged] == [
        ("authorization", theirs.id, "Someone else's"), ("job", job.id, "their-job")]


# -- reauthorize ---------------------------------------------------------------------------------

def test_unhealthy_oauth_is_reauthorized_in_place() -> None:
    w = World()
    w.auth("fbo", method="user_oauth", live_overrides={"health": "unhealthy", "health_reason": "password changed"})
    w.job("aud", ["fbo"])
    plan = w.plan()
    action = by_address(plan)["Authorization/fbo"]
    assert action.kind is ActionKind.REAUTHORIZE and action.live_id == w.live_id("fbo")
    assert "`authctl reauth fbo`" in action.instruction
    assert any("password changed" in r for r in action.reasons)
    assert not action.blocked and plan.summary()["reauthorize"] == 1 and plan.summary()["blocked"] == 0
    assert plan.has_changes and not plan.has_blocked
    assert "Job/aud" not in by_address(plan)  # same id: the job keeps working


def test_unhealthy_oauth_with_label_edit_keeps_the_edit() -> None:
    w = World()
    w.auth("fbo", method="user_oauth", live_overrides={"health": "unhealthy", "label": "old"})
    action = by_address(w.plan())["Authorization/fbo"]
    assert action.kind is ActionKind.REAUTHORIZE
    assert change_map(action) == {"label": ("old", "Label of fbo")}


def test_oauth_not_existing_needs_login_and_its_jobs_wait() -> None:
    w = World()
    w.auth("gads", provider="google_ads", method="oauth", live=False, managed=False)
    w.job("cm", ["gads"], workflow="adwords-customer-match", live=False, managed=False)
    plan = w.plan()
    auth, job = by_address(plan)["Authorization/gads"], by_address(plan)["Job/cm"]
    assert auth.kind is ActionKind.REAUTHORIZE and auth.live_id is None
    assert "`authctl login gads`" in auth.instruction
    assert job.waiting_for == ("Authorization/gads",) and job.depends_on == ()
    assert change_map(job)["authorizations"] == (None, ["gads (after `authctl login gads`)"])
    assert plan.summary()["reauthorize"] == 1 and not plan.has_blocked


# -- warnings -----------------------------------------------------------------------------------

def test_running_job_on_unhealthy_authorization_warns() -> None:
    w = World()
    w.auth("fb", live_overrides={"health": "unhealthy", "health_reason": "token revoked"})
    w.job("aud", ["fb"])
    w.job("quiet", ["fb"], state="paused")
    plan = w.plan()
    assert plan.actions == ()  # a token credential is not reauthorized by a person
    assert tuple(w.message for w in plan.warnings) == ("Job/aud (running) uses Authorization/fb, which is Unhealthy: token revoked",)


@pytest.mark.parametrize(("delta", "days", "expected"), [
    (timedelta(days=3, hours=1), 14, "Authorization/fb: token expires in 3 days (2025-03-04 13:00 UTC)"),
    (timedelta(days=14), 14, "Authorization/fb: token expires in 14 days (2025-03-15 12:00 UTC)"),
    (timedelta(days=15), 14, None),
    (timedelta(days=20), 30, "Authorization/fb: token expires in 20 days (2025-03-21 12:00 UTC)"),
    (timedelta(days=-1), 14, "Authorization/fb: token expired on 2025-02-28 12:00 UTC"),
    (timedelta(0), 0, "Authorization/fb: token expired on 2025-03-01 12:00 UTC"),
])
def test_token_expiry_warnings(delta: timedelta, days: int, expected: str | None) -> None:
    w = World(expiry_warning_days=days)
    w.auth("fb", live_overrides={"token_expires_at": NOW + delta})
    assert tuple(x.message for x in w.plan().warnings) == ((expected,) if expected else ())


@pytest.mark.parametrize(("spec", "expect_warning"), [
    ({"method": "user_oauth"}, True),  # needs a login: a reauthorize action
    ({"method": "system_user"}, False),
])
def test_catalog_warning_on_create(spec: dict[str, str], expect_warning: bool) -> None:
    w = World()
    w.auth("fb", live=False, managed=False, **spec)
    action = by_address(w.plan())["Authorization/fb"]
    assert any("Facebook user OAuth breaks" in x for x in action.warnings) is expect_warning


def test_catalog_warning_not_repeated_on_unchanged_objects() -> None:
    w = World()
    w.auth("fbo", method="user_oauth")
    plan = w.plan()
    assert plan.actions == () and plan.warnings == ()


# -- secrets that are not available --------------------------------------------------------------

def test_missing_secret_is_not_compared_and_not_a_change() -> None:
    w = World()
    w.auth("fb")
    del w.environ["FB_TOKEN"]
    plan = w.plan()
    assert plan.actions == ()
    (warning,) = (w.message for w in plan.warnings)
    assert "not compared" in warning and "FB_TOKEN is not set" in warning


def test_missing_secret_on_create_says_not_compared() -> None:
    w = World()
    w.auth("fb", live=False, managed=False)
    del w.environ["FB_TOKEN"]
    change = next(c for c in by_address(w.plan())["Authorization/fb"].changes if c.sensitive)
    assert (change.before, change.after, change.note) == (None, SENSITIVE, "not compared: FB_TOKEN is not set")


def test_missing_secret_does_not_hide_an_in_place_update() -> None:
    w = World()
    w.auth("fb", applied=desired_auth("fb", label="Old"))
    del w.environ["FB_TOKEN"]
    assert kinds(w.plan()) == {"Authorization/fb": "update"}


def test_no_secret_value_or_fingerprint_anywhere_in_outputs() -> None:
    w = World()
    w.environ.update(FB_TOKEN="CANARY-planner-7f3a", GCP_KEY="CANARY-gcp-9b1c")
    w.auth("fb")  # rotated: state recorded fb-token-v1
    w.auth("gcp", provider="google_cloud", method="pubsub_service_account", live=False, managed=False)
    plan = w.plan()
    out = render_json(plan) + render_markdown(plan) + repr(plan)
    assert "CANARY" not in out and "hmac-sha256" not in out


# -- order, summary, determinism ----------------------------------------------------------------

def _every_phase(w: World) -> None:
    w.auth("new-auth", live=False, managed=False)
    w.auth("fb")
    w.job("rebound", ["new-auth"], live_auth_ids=[w.live_id("fb")])
    w.job("paused", ["fb"], state="paused", status="runnable")
    w.job("retired", ["fb"], desired=False)
    w.auth("dropped", desired=False)
    w.auth("rotated", credentials={"access_token": SecretRef("env", "FB_TOKEN_2")}, applied=desired_auth("rotated"))


def test_actions_are_ordered_by_phase() -> None:
    w = World()
    _every_phase(w)
    plan = w.plan()
    order = [(a.address, a.phase) for a in plan.actions]
    assert [a for a, _ in order] == [
        "Authorization/new-auth", "Authorization/rotated",  # create auths (and the create half of a replace)
        "Job/rebound",  # job creates/updates
        "Job/paused", "Job/retired",  # pauses and job deletes
        "Authorization/dropped",  # auth deletes
    ]
    phases = [p.value for _, p in order]
    assert phases == sorted(phases)


def test_summary_counts_and_line() -> None:
    w = World()
    w.auth("a", live=False, managed=False)
    w.auth("b", live=False, managed=False)
    w.auth("c", applied=desired_auth("c", label="Old"))
    w.auth("d", credentials={"access_token": SecretRef("env", "FB_TOKEN_2")}, applied=desired_auth("d"))
    w.auth("e", desired=False)
    w.unmanaged_job("theirs", [w.live_id("e")])
    w.auth("same")
    plan = w.plan()
    assert plan.summary() == {"create": 2, "update": 1, "replace": 1, "delete": 1, "reauthorize": 0,
                              "blocked": 1, "noop": 1}
    assert plan.summary_line() == "Plan: 2 to create, 1 to update, 1 to replace, 1 to delete (1 BLOCKED)."


def test_summary_line_without_changes_and_with_reauthorize() -> None:
    w = World()
    w.auth("fb")
    assert w.plan().summary_line() == "No changes. Live state matches the manifests."
    w.auth("fbo", method="user_oauth", live_overrides={"health": "unhealthy"})
    assert w.plan().summary_line() == "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete, 1 to reauthorize."


def _rich_world() -> World:
    w = World()
    _every_phase(w)
    w.unmanaged_auth("Label of extra")
    w.auth("extra", label="Label of extra", live=False, managed=False)
    w.auth("fbo", method="user_oauth", live_overrides={"health": "unhealthy", "token_expires_at": NOW})
    w.unmanaged_job("theirs", [w.live_id("dropped")], status="paused")
    w.experience("exp", [w.live_id("rotated")])
    return w


def test_same_input_gives_identical_json_and_markdown() -> None:
    first, second = _rich_world().plan(), _rich_world().plan()
    assert render_json(first) == render_json(second)
    assert render_markdown(first) == render_markdown(second)


def test_output_does_not_depend_on_snapshot_or_state_order() -> None:
    w = _rich_world()
    baseline = w.plan_input()
    rng = random.Random(5)
    for _ in range(5):
        def shuffled(d: dict) -> dict:  # type: ignore[type-arg]
            items = list(d.items())
            rng.shuffle(items)
            return dict(items)
        snapshot = replace(baseline.snapshot, authorizations=shuffled(baseline.snapshot.authorizations),
                           jobs=shuffled(baseline.snapshot.jobs), experiences=shuffled(baseline.snapshot.experiences))
        other = replace(baseline, snapshot=snapshot, managed=shuffled(baseline.managed))
        assert render_json(make_plan(other)) == render_json(make_plan(baseline))


def test_plan_input_is_not_mutated() -> None:
    w = _rich_world()
    inp = w.plan_input()
    before = (dict(inp.managed), dict(inp.snapshot.jobs), dict(inp.desired.authorizations))
    make_plan(inp)
    assert (dict(inp.managed), dict(inp.snapshot.jobs), dict(inp.desired.authorizations)) == before



def test_an_oauth_access_token_near_expiry_is_no_warning() -> None:
    """OAuth 2 access tokens live an hour by design and are refreshed; health reports a grant that cannot be."""
    w = World()
    w.auth("fbo", method="user_oauth", live_overrides={"token_expires_at": NOW + timedelta(minutes=30)})
    w.auth("fb", live_overrides={"token_expires_at": NOW + timedelta(days=2)})
    assert [x.message for x in w.plan().warnings] == ["Authorization/fb: token expires in 2 days (2025-03-03 12:00 UTC)"]
