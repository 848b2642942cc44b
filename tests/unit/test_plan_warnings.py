"""Plan warnings at scale: many of one rule about one subject read as one line; JSON keeps every one."""

from __future__ import annotations

import io
import json

from plan_fixtures import World
from rich.console import Console

from reconciler.plan import Plan
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text


def _plan(jobs: int) -> Plan:
    w = World()
    w.auth("fb-user", method="user_oauth", label="Facebook (Jane)",
           live_overrides={"health": "unhealthy", "health_reason": "password changed"})
    for i in range(jobs):
        w.job(f"aud-{i:04d}", ["fb-user"])
    return w.plan()


def _text(plan: Plan, **options: bool) -> str:
    out = io.StringIO()
    Console(file=out, width=200, no_color=True).print(render_text(plan, **options))
    return out.getvalue()


def test_three_thousand_jobs_on_one_unhealthy_authorization_are_one_line() -> None:
    plan = _plan(3000)
    assert len(plan.warnings) == 3000
    text = _text(plan)
    expected = ("  - 3,000 running jobs use Authorization/fb-user, which is Unhealthy: password changed "
                "(Job/aud-0000, Job/aud-0001, Job/aud-0002, ...; --all-warnings lists each)")
    assert expected in text.splitlines()
    assert "Job/aud-2999" not in text
    assert expected.removeprefix("  - ") in render_markdown(plan)


def test_all_warnings_lists_each_and_json_always_carries_every_one() -> None:
    plan = _plan(40)
    every = _text(plan, all_warnings=True)
    assert sum(1 for line in every.splitlines() if "(running) uses Authorization/fb-user" in line) == 40
    data = json.loads(render_json(plan))
    assert len(data["warnings"]) == 40 and len(data["warning_details"]) == 40
    assert {d["rule"] for d in data["warning_details"]} == {"job-on-unhealthy-authorization"}


def test_a_single_warning_prints_exactly_as_before() -> None:
    plan = _plan(1)
    line = "  - Job/aud-0000 (running) uses Authorization/fb-user, which is Unhealthy: password changed"
    assert line in _text(plan).splitlines()


# -- unmanaged objects: listed where they matter, the rest one counted line ------------------------------
def _unmanaged_world() -> Plan:
    """fb-old is deleted (a job of theirs still runs on it); fb-main's label changes; their auth holds a label."""
    w = World()
    w.auth("fb-old", label="Facebook old", desired=False)
    w.unmanaged_job("their-sync", [w.live_id("fb-old")], status="sleeping")
    for index, status in enumerate(["completed", "completed", "killed", "failed"]):
        w.unmanaged_job(f"done-{index}", [w.live_id("fb-old")], status=status)
    w.auth("fb-main", label="Facebook main", live_overrides={"label": "fb main (edited)"})
    theirs = w.unmanaged_auth("Theirs")
    w.job("main-aud", ["fb-main"], live_overrides={"auth_ids": (w.live_id("fb-main"), theirs.id)})
    w.unmanaged_job("elsewhere", [theirs.id])  # uses nothing this plan changes
    w.auth("fb-new", label="Taken", live=False, managed=False)
    w.unmanaged_auth("Taken")  # a label clash: blocks the create
    return w.plan()


def test_unmanaged_objects_know_what_they_are_tied_to() -> None:
    plan = _unmanaged_world()
    by_name = {u.name: u for u in plan.unmanaged}
    assert by_name["their-sync"].related == ("Authorization/fb-old",) and by_name["their-sync"].matters
    assert by_name["done-2"].status == "killed" and not by_name["done-2"].active and not by_name["done-2"].matters
    assert by_name["Theirs"].related == ("Job/main-aud",) and by_name["Theirs"].matters  # a job moved off it
    assert by_name["Taken"].related == ("Authorization/fb-new",)  # it blocks the create
    assert by_name["elsewhere"].related == () and not by_name["elsewhere"].matters
    data = json.loads(render_json(plan))["unmanaged"]
    assert {u["name"]: u["related"] for u in data}["their-sync"] == ["Authorization/fb-old"]


def test_text_and_markdown_list_what_matters_and_count_the_rest() -> None:
    plan = _unmanaged_world()
    lines = _text(plan).splitlines()
    head = lines.index("Unmanaged objects that use what this plan changes (not changed):")
    listed = lines[head + 1:head + 4]
    assert [line.split(" (id ")[0] for line in listed] == ["  authorization Taken", "  authorization Theirs",
                                                           "  job their-sync"]
    assert listed[2].endswith(", sleeping) uses Authorization/fb-old")
    assert lines[head + 4] == ("5 other unmanaged objects not shown, 4 of them completed, failed or killed: "
                               "--show-unmanaged lists them.")
    every = _text(plan, show_unmanaged=True)
    assert "Unmanaged objects (not changed):" in every and "not shown" not in every
    assert "job done-3 (id" in every and ", failed) uses Authorization/fb-old" in every
    md = render_markdown(plan)
    assert "- job `their-sync` (id `" in md and "sleeping) uses `Authorization/fb-old`" in md
    assert "<sub>5 other unmanaged objects not shown, 4 of them completed, failed or killed" in md
    assert "`done-0`" not in md and "`done-0`" in render_markdown(plan, show_unmanaged=True)


def test_a_plan_without_unmanaged_objects_says_nothing_of_them() -> None:
    plan = _plan(1)
    assert "nmanaged" not in _text(plan) and "nmanaged" not in _text(plan, show_unmanaged=True)
    assert "<sub>environment `prod`" in render_markdown(plan)


def test_one_collapsed_object_reads_in_the_singular() -> None:
    from reconciler.render.plan_warnings import unmanaged_count_line

    done = {"kind": "job", "id": "j", "name": "x", "status": "completed", "active": False, "related": []}
    assert unmanaged_count_line([done]) == "1 unmanaged object not shown (completed): --show-unmanaged lists it"
    assert unmanaged_count_line([done], show_all=True) == ""


# -- markdown errors ----------------------------------------------------------------------------------
def test_markdown_error_block_is_escaped_and_bounded() -> None:
    from markdown_it import MarkdownIt

    from reconciler.render.plan_markdown import MAX_CHARS, render_markdown_error

    hostile = "a.yaml:3: Job/x: spec.name: ```` @here <script>x</script>\n# heading"
    md = render_markdown_error("2 errors in the manifests <b>", hint="fix `them` @team", details=[hostile, "b.yaml:1: y"])
    tokens = MarkdownIt("commonmark").parse(md)
    (fence,) = [t for t in tokens if t.type == "fence"]
    assert fence.content.splitlines() == ["a.yaml:3: Job/x: spec.name: ```` @here <script>x</script>\\n# heading",
                                          "b.yaml:1: y"]
    html = MarkdownIt("commonmark").render(md)
    assert "<script" not in html and "<b>" not in html and "&lt;b&gt;" in html
    assert "`@team`" in md  # no notification outside the block either
    huge = render_markdown_error("many", details=[f"f.yaml:{i}: " + "x" * 400 for i in range(1_000)])
    assert len(huge) <= MAX_CHARS and "more lines not shown" in huge
