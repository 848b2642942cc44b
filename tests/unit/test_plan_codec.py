"""The plan's JSON codec: a saved plan file reads back as the same Plan, and bad files say what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plan_fixtures import NOW, World, by_address
from test_render_golden import rich_plan

from reconciler.errors import PlanFileError
from reconciler.plan import ActionKind, Plan
from reconciler.plan_codec import PLAN_FILE_KIND, plan_file_dict, plan_from_dict, plan_to_dict
from reconciler.plan_file import read_plan_file, write_plan_file
from reconciler.state.records import ManagedObject
from reconciler.vocabulary import ObjectKind


def deposed_plan() -> Plan:
    """An earlier replace whose old half is still waiting: state keeps it as a deposed authorization."""
    w = World()
    w.auth("fb-main", label="Facebook Ads (main)")
    w.unmanaged_auth("Facebook Ads (main, old)")
    old_id = next(i for i, a in w.live_auths.items() if a.label == "Facebook Ads (main, old)")
    w.managed[(ObjectKind.DEPOSED_AUTHORIZATION, old_id)] = ManagedObject(
        ObjectKind.DEPOSED_AUTHORIZATION, old_id, old_id, {}, NOW, {"replaced_by": "fb-main"})
    return w.plan()


def test_a_saved_plan_reads_back_as_the_same_plan() -> None:
    for plan in (rich_plan(), deposed_plan()):
        data = json.loads(json.dumps(plan_file_dict(plan), default=str))
        assert plan_from_dict(data) == plan


def test_a_deposed_delete_carries_its_identity_as_a_field() -> None:
    plan = deposed_plan()
    deletes = [a for a in plan.actions if a.kind is ActionKind.DELETE]
    assert len(deletes) == 1
    action = deletes[0]
    assert action.deposed_id == action.live_id
    assert action.address == f"Authorization/fb-main (deposed {action.live_id})"
    assert action.name == "fb-main"
    assert plan_to_dict(plan)["actions"][0]["deposed_id"] == action.live_id


def test_the_json_document_has_no_preconditions_but_the_plan_file_does() -> None:
    plan = rich_plan()
    assert all("preconditions" not in a for a in plan_to_dict(plan)["actions"])
    saved = plan_file_dict(plan)
    assert saved["kind"] == PLAN_FILE_KIND
    assert any(a["preconditions"] for a in saved["actions"])
    assert by_address(plan)  # the fixture really holds actions


def test_plan_file_round_trip_on_disk(tmp_path: Path) -> None:
    plan = rich_plan()
    path = tmp_path / "plans" / "plan.json"
    write_plan_file(path, plan)
    assert path.stat().st_mode & 0o777 == 0o600
    assert read_plan_file(path) == plan


@pytest.mark.parametrize(("mutate", "problem"), [
    (lambda d: d.pop("context"), "is not a valid authctl plan: context: missing"),
    (lambda d: d["actions"][0].update(action="explode"),
     "is not a valid authctl plan: actions[0].action: 'explode' is not one of create, update"),
    (lambda d: d["actions"][0].update(phase="late"),
     "is not a valid authctl plan: actions[0].phase: expected an integer, got a string"),
    (lambda d: d["actions"][0]["changes"].append({"before": 1}), "].path: missing"),
])
def test_a_damaged_plan_file_is_a_plan_file_error_naming_the_file(tmp_path: Path, mutate, problem) -> None:
    data = plan_file_dict(rich_plan())
    mutate(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data, default=str), encoding="utf-8")
    with pytest.raises(PlanFileError) as caught:
        read_plan_file(path)
    assert str(path) in caught.value.message and problem in caught.value.message
