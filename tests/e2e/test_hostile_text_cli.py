"""Hostile text made in the platform's UI (and in a manifest) through every command, as real subprocesses.

Labels, descriptions, health reasons, job names and workflows, experience names and a
manifest label carry rich markup, ANSI/OSC escapes, CR, bidi overrides, newlines with
markdown headings and fences, HTML, pipes, mentions, NUL and 10 kB. Every command must
exit with its ordinary code (never 1 with "internal error"), print no control, bidi or
invisible character (colour off, and colour on apart from its own codes), and give the
strings back exactly in JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from apply_support import auth_doc, documents, job_doc, open_platform_of, settings
from cli_runner import _run_cli, write_workspace
from markdown_it import MarkdownIt

ENV = {"HT_KEEP": "keep-token", "HT_GONE": "gone-token"}
COLOUR = {"NO_COLOR": None, "FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "200"}

LABEL = "[/] [bold red]x[/] \x1b[31mred\x1b]0;owned\x07 \rEVIL \u202edcba <script>alert(1)</script> | ``` @channel :smile:"
DESCRIPTION = "line one\n# Heading\n```\n<!-- x --> [link=http://evil.example]y[/link] \x9b31m \u200b\ufeff"
REASON = "token \x1b[2J revoked\r\n[/] <b>bold</b>"
JOB = "job\n## injected\n\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ | a | b |\n|---|---|"
WORKFLOW = "wf[/]\x1b[5m\u2066x\u2069"
EXPERIENCE = "exp\x00nul *bold* _it_ ~~s~~ [md](http://evil.example)"
LONG = "L" * 10_000 + "[/]\x1b[31m"
# The manifest's own label, written with YAML escapes (ESC, bidi override) in a double-quoted string.
MANIFEST_LABEL_YAML = r"[/] \e[31mmanifest\e[0m \u202e <img src=x> | @here"
MANIFEST_LABEL = "[/] \x1b[31mmanifest\x1b[0m \u202e <img src=x> | @here"

FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069"
                       "\ufeff\ud800-\udfff]")
SGR = re.compile(r"\x1b\[[0-9;]*m")


def _manifests(with_gone: bool) -> str:
    keep = auth_doc("keep", "Keep", "HT_KEEP").replace('label: "Keep"', f'label: "{MANIFEST_LABEL_YAML}"')
    docs = [keep, job_doc("keep-job", "keep")]
    if with_gone:
        docs += [auth_doc("gone", "Going away", "HT_GONE"), job_doc("gone-job", "gone")]
    return documents(*docs)


class Hostile:
    """A workspace whose platform holds hostile text, and a manifest change that makes a BLOCKED delete."""

    def __init__(self, root: Path, run_cli: Any) -> None:
        self.root, self.run_cli = root, run_cli
        applied = self.cli("apply", "--auto-approve", codes=(0,))
        assert "keep" in applied.stdout
        p = open_platform_of(root)
        try:
            by_label = {a.label: a.id for a in p.list_authorizations()}
            self.keep, self.gone = by_label[MANIFEST_LABEL], by_label["Going away"]
            self.hostile = p.create_authorization(provider="facebook", method="system_user", label=LABEL,
                                                  description=DESCRIPTION, owner=JOB,
                                                  config={"ads_account_id": "act_1234567890"},
                                                  credentials={"access_token": "t"}).id
            self.long = p.create_authorization(provider="facebook", method="system_user", label=LONG,
                                               description=LONG, config={"ads_account_id": "act_1234567890"},
                                               credentials={"access_token": "t"}).id
            p.set_health(self.hostile, "unhealthy", REASON)
            p.create_job(name=JOB, workflow=WORKFLOW, auth_ids=[self.gone, self.hostile], owner=LABEL)
            p.create_job(name=LONG, workflow=LONG, auth_ids=[self.gone, self.long], status="paused")
            p.create_experience(name=EXPERIENCE, auth_ids=[self.gone])
        finally:
            p.close()
        (root / "main.yaml").write_text(_manifests(False), encoding="utf-8")  # gone: a delete, now BLOCKED

    def cli(self, *args: str, codes: tuple[int, ...], colour: bool = False) -> Any:
        result = self.run_cli(*args, "-w", self.root, env={**ENV, **(COLOUR if colour else {})})
        both = result.stdout + result.stderr
        assert result.returncode in codes, both
        assert "Traceback" not in both and "internal error" not in both, both
        bad = FORBIDDEN.search(SGR.sub("", both) if colour else both.replace("\n", "\x0a"))
        assert bad is None, (args, bad.group(), both[max(bad.start() - 60, 0):bad.start() + 60])
        if not colour:
            assert "\x1b" not in both
        return result


def _hostile_world(root: Path) -> Hostile:
    return Hostile(write_workspace(root, {"main.yaml": _manifests(True)}, settings=settings("hostile")), _run_cli)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    """One world for the read-only commands (apply and the platform commands below change theirs)."""
    return _hostile_world(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def own_hostile(tmp_path: Path) -> Hostile:
    return _hostile_world(tmp_path / "ws")


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_status_and_show_print_data_as_data(hostile: Hostile, colour: bool) -> None:
    out = hostile.cli("status", codes=(0,), colour=colour).stdout
    # (status cuts long labels with an ellipsis to fit the width: its start is there, show has the rest)
    assert "[/] [bold red]x[/]" in out and "\\x1b[31mred" in out
    for auth in (hostile.hostile, hostile.long, hostile.gone, hostile.keep):
        shown = hostile.cli("show", auth, codes=(0,), colour=colour).stdout
        assert auth in shown
    assert "\\u202edcba" in hostile.cli("show", hostile.hostile, codes=(0,), colour=colour).stdout


def test_status_and_show_json_are_exact(hostile: Hostile) -> None:
    rows = {r["id"]: r for r in json.loads(hostile.cli("status", "--format", "json", codes=(0,)).stdout)
            ["authorizations"]}
    assert rows[hostile.hostile]["label"] == LABEL and rows[hostile.hostile]["description"] == DESCRIPTION
    assert rows[hostile.hostile]["health_reason"] == REASON and rows[hostile.hostile]["owner"] == JOB
    assert rows[hostile.long]["label"] == LONG and rows[hostile.keep]["label"] == MANIFEST_LABEL
    shown = json.loads(hostile.cli("show", hostile.gone, "--format", "json", codes=(0,)).stdout)
    assert {(j["name"], j["workflow"]) for j in shown["jobs"]} >= {(JOB, WORKFLOW), (LONG, LONG)}


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_plan_text_shows_the_blocked_delete_naming_hostile_jobs(hostile: Hostile, colour: bool) -> None:
    out = hostile.cli("plan", codes=(3,), colour=colour).stdout
    assert "BLOCKED" in out and "## injected" in out and "\\x1b]8;;" in out
    blocked = [line for line in SGR.sub("", out).splitlines() if line.lstrip().startswith("blocked by")]
    assert len(blocked) == 3  # JOB, LONG and EXPERIENCE, one line each (gone-job is deleted with it)
    # the unmanaged job using the blocked authorization is listed; the unrelated unmanaged labels are counted
    assert "Unmanaged objects that use what this plan changes (not changed):" in out
    assert "uses Authorization/gone" in out and "\\x1b[31mred" not in out
    assert "unmanaged objects not shown" in out and "--show-unmanaged" in out
    every = hostile.cli("plan", "--show-unmanaged", codes=(3,), colour=colour).stdout
    assert "Unmanaged objects (not changed):" in every and "\\x1b[31mred" in every  # the unmanaged labels


def test_plan_markdown_has_no_injected_structure(hostile: Hostile) -> None:
    md = hostile.cli("plan", "--format", "markdown", codes=(3,)).stdout
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    html = parser.render(md)
    assert "<script" not in html and "<img" not in html and "<!--" not in html and html.count("<table") == 1
    assert "<h1" not in html and "<h2" not in html and "<b>" not in html and "<a " not in html
    tokens = parser.parse(md)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["authctl plan", ":no_entry: Blocked", "Changes"]
    assert [t.info for t in tokens if t.type == "fence"] == ["diff", "diff"]
    fences = [line for line in md.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0 and all(re.fullmatch(r"`{3,}(diff)?", f) for f in fences)
    assert max(len(line) for line in md.splitlines()) < 2_000  # 10 kB values are shortened


def test_plan_json_is_exact(hostile: Hostile) -> None:
    data = json.loads(hostile.cli("plan", "--format", "json", codes=(3,)).stdout)
    gone = next(a for a in data["actions"] if a["address"] == "Authorization/gone")
    assert gone["blocked"] and {b["name"] for b in gone["blocked_by"]} == {JOB, LONG, EXPERIENCE}
    unmanaged = {u["name"] for u in data["unmanaged"]}
    assert {LABEL, LONG} <= unmanaged


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
def test_platform_lists_print_data_as_data(hostile: Hostile, colour: bool) -> None:
    auths = hostile.cli("platform", "auths", "list", codes=(0,), colour=colour).stdout
    assert hostile.hostile in auths and ":smile:" in auths
    jobs = hostile.cli("platform", "jobs", "list", codes=(0,), colour=colour).stdout
    assert "job\\n## injected" in jobs


def test_platform_lists_json_are_exact(hostile: Hostile) -> None:
    auths = json.loads(hostile.cli("platform", "auths", "list", "--format", "json", codes=(0,)).stdout)
    assert {LABEL, LONG, MANIFEST_LABEL} <= {a["label"] for a in auths["authorizations"]}
    jobs = json.loads(hostile.cli("platform", "jobs", "list", "--format", "json", codes=(0,)).stdout)["jobs"]
    assert {(JOB, WORKFLOW), (LONG, LONG)} <= {(j["name"], j["workflow"]) for j in jobs}


def test_platform_commands_echo_hostile_arguments_as_data_and_apply_reports_the_blocked_delete(
        own_hostile: Hostile) -> None:
    hostile = own_hostile
    said = hostile.cli("platform", "auths", "set-health", hostile.hostile, "unhealthy", "--reason", REASON,
                       codes=(0,)).stdout
    assert "[/] [bold red]x[/]" in said and "\\x1b[2J" in said
    job_id = hostile.cli("platform", "jobs", "create", "--name", LABEL, "--workflow", WORKFLOW,
                         "--auth", hostile.hostile, codes=(0,)).stdout.strip()
    said = hostile.cli("platform", "jobs", "set-status", job_id, "paused", codes=(0,)).stdout
    assert "\\u202edcba" in said and "paused" in said
    applied = hostile.cli("apply", "--auto-approve", codes=(3,)).stdout
    assert "BLOCKED" in applied and "Authorization/gone" in applied
