"""Golden files for the three plan renderers, over one plan holding every kind of action.

The goldens live in tests/unit/golden/ and are compared byte for byte. After an
intended change of output, regenerate them and review the diff::

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_render_golden.py
"""

from __future__ import annotations

import io
import json
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from plan_fixtures import NOW, World, desired_auth
from rich.console import Console

from reconciler.manifest.secrets import SecretRef
from reconciler.plan import Plan
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import MAX_CHARS, render_markdown
from reconciler.render.plan_text import render_text

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def rich_plan() -> Plan:
    """Every action kind, a blocked delete and a blocked replace, warnings, unmanaged objects."""
    w = World()
    # creates: an authorization (its secret not available here) and a job bound to it
    w.auth("fb-emea", label="Facebook Ads (EMEA)", description="EMEA ad account",
           credentials={"access_token": SecretRef("env", "FB_TOKEN_EMEA")}, live=False, managed=False)
    w.job("emea-audiences", ["fb-emea"], config={"segment_ids": ["high_value"]}, live=False, managed=False)
    # in-place update (label drift put back) and a job config update
    w.auth("fb-main", label="Facebook Ads (main)", live_overrides={"label": "fb main (edited in UI)"})
    w.job("main-audiences", ["fb-main"], config={"segment_ids": ["churn_risk", "high_value"]},
          live_overrides={"config": {"segment_ids": ["churn_risk"]}})
    # a job paused outside the manifests is resumed; a job asked to pause
    w.job("main-conversions", ["fb-main"], workflow="facebook-conversion-api", config={"pixel": "123456"},
          status="paused")
    w.job("main-web", ["fb-main"], workflow="facebook-web-audience", state="paused", status="runnable")
    # replace on rotation: the managed job moves, an imported experience blocks the old delete
    w.auth("gcp-events", provider="google_cloud", method="pubsub_service_account", label="GCP events",
           credentials={"cert_json": SecretRef("env", "GCP_KEY_V2")},
           applied=desired_auth("gcp-events", provider="google_cloud", method="pubsub_service_account",
                                label="GCP events"))
    w.environ["GCP_KEY_V2"] = "new key"
    w.job("events-in", ["gcp-events"], workflow="pubsub-ingress", config={"topic_id": "web-events"})
    w.experience("Spring campaign", [w.live_id("gcp-events")])
    # a job whose workflow changed is replaced
    w.job("main-export", ["fb-main"], workflow="facebook-audience-populate",
          live_overrides={"workflow": "facebook-web-audience"})
    # deletes: one blocked by an unmanaged paused job, one free, and a managed job
    w.auth("fb-legacy", label="Facebook legacy", desired=False)
    w.unmanaged_job("legacy-sync", [w.live_id("fb-legacy")], status="paused")
    w.unmanaged_job("legacy-old", [w.live_id("fb-legacy")], status="completed")
    w.auth("fb-old", label="Facebook old", desired=False)
    w.job("old-audiences", ["fb-old"], desired=False)
    # reauthorize: an unhealthy OAuth connection and one nobody has logged into yet
    w.auth("fb-user", method="user_oauth", label="Facebook (Jane)",
           live_overrides={"health": "unhealthy", "health_reason": "password changed",
                           "token_expires_at": NOW + timedelta(days=5)})
    w.job("user-audiences", ["fb-user"])
    w.auth("gads", provider="google_ads", method="oauth", label="Google Ads", live=False, managed=False)
    w.job("customer-match", ["gads"], workflow="adwords-customer-match", live=False, managed=False)
    # unchanged, unmanaged, expired
    w.auth("fb-quiet", label="Facebook quiet", live_overrides={"token_expires_at": NOW - timedelta(days=2)})
    w.unmanaged_auth("Someone else's TikTok", provider="tiktok", method="events_token")
    return w.plan()


def render_text_plain(plan: Plan) -> str:
    console = Console(record=True, width=120, no_color=True, force_terminal=False, file=io.StringIO())
    console.print(render_text(plan))
    return console.export_text()


RENDERERS = {"plan.txt": render_text_plain, "plan.md": render_markdown, "plan.json": render_json}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_golden(name: str) -> None:
    actual = RENDERERS[name](rich_plan())
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
    expected = path.read_bytes().decode("utf-8")
    assert actual == expected, f"{name} differs from its golden file; if intended, regenerate with UPDATE_GOLDEN=1"


def test_rich_plan_covers_every_kind() -> None:
    summary = rich_plan().summary()
    for kind in ("create", "update", "replace", "delete", "reauthorize", "blocked", "noop"):
        assert summary[kind] > 0, kind
    plan = rich_plan()
    assert plan.warnings and plan.unmanaged and any(a.warnings for a in plan.actions)


def test_json_contract_keys() -> None:
    data = json.loads(render_json(rich_plan()))
    assert data["format_version"] == "1"
    assert set(data["summary"]) >= {"create", "update", "replace", "delete", "blocked", "reauthorize", "noop"}
    for action in data["actions"]:
        assert set(action) >= {"address", "action", "blocked", "blocked_by", "changes", "warnings"}
        for change in action["changes"]:
            assert set(change) >= {"path", "before", "after", "sensitive"}
        for blocker in action["blocked_by"]:
            assert set(blocker) >= {"kind", "name", "id", "status", "managed"}
    assert isinstance(data["warnings"], list)


def test_text_starts_with_the_summary_and_shows_symbols() -> None:
    plan = rich_plan()
    text = render_text_plain(plan)
    assert text.splitlines()[0] == plan.summary_line()
    for symbol, kind in (("+", "create"), ("~", "update"), ("-/+", "replace"), ("-", "delete"),
                         ("!", "reauthorize")):
        assert re.search(rf"^{re.escape(symbol)} \S+/", text, re.M), kind
    assert "(sensitive) -> (sensitive, rotated)" in text
    assert "(sensitive, not compared: FB_TOKEN_EMEA is not set)" in text
    assert "new key" not in text


def test_markdown_blocked_section_comes_first() -> None:
    md = render_markdown(rich_plan())
    blocked = md.index("Blocked")
    assert blocked < md.index("#### :warning: Warnings") < md.index("#### Changes")
    section = md[blocked:md.index("#### :warning: Warnings")]
    assert "`Authorization/fb-legacy`" in section and "`legacy-sync`" in section
    assert "`Authorization/gcp-events`" in section and "`Spring campaign`" in section


def test_markdown_details_carry_instructions_waits_and_catalog_warnings() -> None:
    md = render_markdown(rich_plan())
    assert "# run `authctl reauth fb-user` (same id: jobs keep working)" in md
    assert "# run `authctl login gads`; jobs bound to it wait until then" in md
    assert "# waits for Authorization/gads (a person must log in first)" in md
    assert "# warning: Facebook user OAuth breaks" in md


def test_job_replace_is_not_described_as_an_authorization_replace() -> None:
    text = render_text_plain(rich_plan())
    assert "-/+ Job/main-export will be replaced\n" in text
    assert "-/+ Authorization/gcp-events will be replaced (create new, move jobs, delete old)" in text


def _huge_plan() -> Plan:
    w = World()
    for i in range(400):
        w.auth(f"auth-{i:04d}", label=f"Authorization number {i}", description="x" * 150, live=False, managed=False)
    w.auth("zz-old", desired=False)  # the delete sorts last: past the cut
    w.unmanaged_job("still-running", [w.live_id("zz-old")])
    return w.plan()


def test_markdown_is_truncated_with_a_note_beyond_the_limit() -> None:
    plan = _huge_plan()
    md = render_markdown(plan)
    assert len(md) <= MAX_CHARS == 60_000
    assert re.search(r"_… \d+ more actions not shown: the comment is limited to 60,000 characters", md)
    # the summary and the blocked delete are still at the top, though its details were cut
    assert plan.summary_line() in md
    assert "`Authorization/zz-old` (delete) is blocked by job `still-running`" in md
    assert "<code>Authorization/zz-old</code>" not in md
    assert md.endswith("</sub>\n")


def test_markdown_not_truncated_when_small() -> None:
    md = render_markdown(rich_plan())
    assert "more actions not shown" not in md


def test_long_text_plan_repeats_the_summary_at_the_end() -> None:
    plan = _huge_plan()
    lines = [line for line in render_text_plain(plan).splitlines() if line.strip()]
    assert lines[0] == lines[-1] == plan.summary_line()
