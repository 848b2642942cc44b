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
