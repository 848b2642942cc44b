"""Text from the platform, the state store and manifests is data: a hostile corpus through every renderer.

Each string of ``HOSTILE`` is put everywhere a plan, a status table, a show view, a
catalog view, an apply line and an error message can carry text, then:

- terminal output (colour on or off, rich or the plain fast path) holds no control,
  bidi or invisible character, only rich's own colour codes, and no extra line;
- the markdown comment parses (markdown-it) to the same block structure as a benign
  plan: no injected heading, fence, table, list, HTML, link, emphasis or mention;
- JSON gives back every string exactly.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from markdown_it import MarkdownIt
from plan_fixtures import World
from rich.console import Console, RenderableType

from reconciler.apply import ResultCode, StepResult
from reconciler.catalog import Catalog
from reconciler.cli import output
from reconciler.errors import AuthctlError
from reconciler.live import RequestCounts
from reconciler.plan import Plan
from reconciler.plan_codec import plan_to_dict
from reconciler.render.catalog import provider_detail, providers_table
from reconciler.render.escape import (
    MARKDOWN_LIMIT,
    html_text,
    json_text,
    markdown_code,
    markdown_fence,
    markdown_text,
    shorten,
    terminal_text,
)
from reconciler.render.plan_json import render_json
from reconciler.render.plan_markdown import render_markdown
from reconciler.render.plan_text import render_text
from reconciler.render.plan_warnings import warning_lines
from reconciler.render.status import show_view, status_table
from reconciler.view_rows import AuthorizationRow, JobRow
from reconciler.vocabulary import Health
from plan_fixtures import catalog

HOSTILE = {
    "markup": "[bold red]x[/]",
    "close-tag": "[/]",
    "link": "[link=http://evil.example]click[/link]",
    "emoji-code": ":thumbs_up: :smile:",
    "ansi": "\x1b[31mred\x1b[0m",
    "osc-title": "\x1b]0;owned\x07title",
    "osc8-link": "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "c1-csi": "\x9b31mred",
    "cr-overwrite": "safe\rEVIL",
    "backspace-bell-del": "ab\x08\x08\x07\x7f",
    "newline-heading": "x\n# Heading\n\n## Another",
    "fence": "```\ncode\n```",
    "fence-inline": "a ```` b ` c",
    "tilde-fence": "~~~\nx",
    "html": "<script>alert(1)</script>",
    "comment": "<!-- hidden -->",
    "details": "</summary></details><h1>x</h1>",
    "entity": "&lt;b&gt; &amp; &#x41;",
    "table": "| a | b |\n|---|---|\n| c | d |",
    "pipes": "a|b||c",
    "emphasis": "*bold* _it_ ~~strike~~ **x** __y__",
    "link-md": "[click](http://evil.example) ![img](http://evil.example/x.png)",
    "autolink": "<http://evil.example>",
    "heading-start": "# not a heading",
    "list-start": "- item",
    "ordered-start": "1. item",
    "quote-start": "> quote",
    "indent": "    indented code",
    "backslash": "C:\\path\\*x\\",
    "math": "$x^2$",
    "mentions": "@channel @acme/security-team hi",
    "rtl-override": "abc\u202edcba\u202c",
    "bidi-isolates": "\u2066x\u2069\u2067y\u2069\u2068z\u2069\u200e\u200f\u061c",
    "zero-width": "a\u200bb\u2060c\ufeffd",
    "separators": "a\u2028b\u2029c\x85d",
    "tags": "x\U000e0041\U000e0042",
    "nul": "a\x00b",
    "tab": "a\tb",
    "emoji": "\U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f680 caf\u00e9",
    "long": "A" * 5_000 + "[/]" + "\x1b[31m" + "B" * 5_000,
}
BENIGN = "plain"

# What no terminal output may hold: C0 (but newline), DEL, C1, bidi controls, invisible characters,
# line/paragraph separators, lone surrogates.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069"
                       "\ufeff\ud800-\udfff\U000e0000-\U000e007f]")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours
IDS = sorted(HOSTILE)


def hostile_plan(h: str) -> Plan:
    """``h`` as manifest label/description/config, live label, health reason, job/experience names, state name."""
    w = World()
    w.auth("fb-main", label=h, description=h, live_overrides={"label": "was " + h, "description": ""})
    w.job("main-aud", ["fb-main"], config={"segment_ids": [h]}, live_overrides={"config": {"segment_ids": ["old"]}})
    w.auth("fb-new", label=h + " (new)", description=h, live=False, managed=False)
    w.job("new-aud", ["fb-new"], config={"note": h}, live=False, managed=False)
    w.auth("fb-user", method="user_oauth", label="Jane",
           live_overrides={"health": "unhealthy", "health_reason": h})
    w.job("user-aud", ["fb-user"])
    w.auth(h, label="gone " + h, desired=False)  # a name from the state store
    gone = w.live_id(h)
    w.unmanaged_job(h, [gone], status="paused", workflow=h)
    w.experience(h, [gone])
    w.unmanaged_auth("unmanaged " + h)
    return w.plan()


def console(color: bool, width: int = 100_000) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=color, color_system="truecolor" if color else None,
                   no_color=not color, highlight=False)


def terminal(renderable: RenderableType, *, color: bool) -> str:
    c = console(color)
    c.print(renderable)
    return c.file.getvalue()  # type: ignore[attr-defined]


def assert_terminal_safe(out: str) -> None:
    bad = FORBIDDEN.search(SGR.sub("", out))
    assert bad is None, f"{bad.group()!r} at {bad.start()} in {out[max(bad.start() - 40, 0):bad.start() + 40]!r}"


# -- the escapers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("key", IDS)
def test_terminal_text_leaves_nothing_a_terminal_acts_on(key: str) -> None:
    text = terminal_text(HOSTILE[key])
    assert FORBIDDEN.search(text) is None and "\n" not in text
    kept = terminal_text(HOSTILE[key], keep_newlines=True)
    assert FORBIDDEN.search(kept) is None
    assert kept.count("\n") == HOSTILE[key].count("\n")


def test_terminal_text_shows_what_it_escapes() -> None:
    assert terminal_text("a\x1b[31mb\x07\rc\nd\te") == "a\\x1b[31mb\\x07\\rc\\nd\\te"
    assert terminal_text("abc\u202edcba") == "abc\\u202edcba"
    assert terminal_text("x\U000e0041") == "x\\U000e0041"
    assert terminal_text("caf\u00e9 [/] \U0001f680 \u200d") == "caf\u00e9 [/] \U0001f680 \u200d"  # unchanged


def test_shorten_and_markdown_limit() -> None:
    assert shorten("x" * 10, 10) == "x" * 10
    assert shorten("x" * 11, 10) == "x" * 9 + "…"
    assert shorten("x" * 11, None) == "x" * 11
    assert len(markdown_text("y" * 10_000)) == MARKDOWN_LIMIT


def test_markdown_code_spans_hold_any_backticks() -> None:
    md = MarkdownIt("commonmark")
    for value in ("a`b", "``", "`x`", " x ", "", "a ```` b ` c"):
        html = md.renderInline(markdown_code(value))
        assert html.startswith("<code>") and html.endswith("</code>") and html.count("<code>") == 1, (value, html)
    assert markdown_fence(["a ``` b", "````"]) == "`````"
    assert markdown_fence(["plain"]) == "```"


def test_markdown_text_and_html_text() -> None:
    assert markdown_text("<b>&") == "&lt;b&gt;&amp;"
    assert markdown_text("@channel hi") == "`@channel` hi"
    assert markdown_text("ops@example.com") == "ops@example.com"
    assert markdown_text("# x") == "\\# x"
    assert html_text('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"


@pytest.mark.parametrize("key", IDS)
def test_json_text_is_exact(key: str) -> None:
    data = {"value": HOSTILE[key], "lone": "\ud800x"}
    document = json_text(json.dumps(data, ensure_ascii=False))
    assert json.loads(document) == data
    assert FORBIDDEN.search(document.replace("\n", "")) is None


# -- plans ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def benign_plan() -> Plan:
    return hostile_plan(BENIGN)


@pytest.mark.parametrize("color", [False, True], ids=["plain", "colour"])
@pytest.mark.parametrize("key", IDS)
def test_text_plan_shows_data_as_data(key: str, color: bool, benign_plan: Plan) -> None:
    h = HOSTILE[key]
    out = terminal(render_text(hostile_plan(h)), color=color)
    assert_terminal_safe(out)
    assert out.count("\n") == terminal(render_text(benign_plan), color=color).count("\n")
    if key in ("markup", "close-tag", "link"):
        assert h in out  # shown literally, not as a style
    if key == "emoji-code":
        assert ":smile:" in out


@pytest.mark.parametrize("key", IDS)
def test_text_plan_through_the_plain_fast_path(key: str) -> None:
    c = console(False, width=200)
    output.print_lines(c, render_text(hostile_plan(HOSTILE[key]), all_warnings=True))
    assert_terminal_safe(c.file.getvalue())  # type: ignore[attr-defined]


_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
_FREE_INLINE = {"text", "code_inline", "softbreak"}  # what data may become in a line


def _structure(markdown: str) -> tuple[list[tuple[str, str, int]], Counter[str]]:
    tokens = _MD.parse(markdown)
    blocks = [(t.type, t.tag, t.level) for t in tokens]
    inline = Counter(c.type for t in tokens if t.type == "inline" for c in t.children or []
                     if c.type not in _FREE_INLINE)
    return blocks, inline


def _outside_code(html: str) -> str:
    return re.sub(r"<code[^>]*>.*?</code>", "", html, flags=re.S)


@pytest.mark.parametrize("key", IDS)
def test_markdown_plan_has_the_structure_of_a_benign_one(key: str, benign_plan: Plan) -> None:
    h = HOSTILE[key]
    md = render_markdown(hostile_plan(h))
    base = render_markdown(benign_plan)
    assert FORBIDDEN.search(md.replace("\n", "")) is None
    assert md.count("\n") == base.count("\n")
    assert _structure(md) == _structure(base)
    html, base_html = _MD.render(md).lower(), _MD.render(base).lower()
    for tag in ("<script", "<!--", "<h1", "<h2", "<h3", "<table", "<a ", "<img", "<em>", "<strong>", "<s>",
                "<blockquote", "<pre", "<ol", "<ul", "<li", "</summary>", "</details>"):
        assert html.count(tag) == base_html.count(tag), tag
    assert "@channel" not in _outside_code(html) and "@acme" not in _outside_code(html)
    assert max(len(line) for line in md.splitlines()) < 1_000  # 10 kB values are shortened


@pytest.mark.parametrize("key", IDS)
def test_json_plan_is_exact(key: str) -> None:
    h = HOSTILE[key]
    plan = hostile_plan(h)
    document = render_json(plan)
    assert FORBIDDEN.search(document.replace("\n", "")) is None
    data = json.loads(document)
    assert data == json.loads(json.dumps(plan_to_dict(plan), default=str))
    blocked = next(a for a in data["actions"] if a["address"] == f"Authorization/{h}")
    assert {b["name"] for b in blocked["blocked_by"]} == {h}
    assert f"unmanaged {h}" in {u["name"] for u in data["unmanaged"]} | {u.get("label") for u in data["unmanaged"]}
    assert any(h in w for w in data["warnings"])


@pytest.mark.parametrize("key", IDS)
def test_plan_warning_lines_keep_the_data(key: str) -> None:
    data = plan_to_dict(hostile_plan(HOSTILE[key]))
    lines = warning_lines(data["warning_details"])
    assert any(HOSTILE[key] in line for line in lines)  # escaping is the sink's job, not the grouping's


# -- status and show ------------------------------------------------------------------------------
def _row(h: str) -> AuthorizationRow:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    return AuthorizationRow(id=h, name=h, label=h, description=h, provider=h, method=h, health=Health.UNHEALTHY,
                            health_reason=h, owner=h, created=when, updated=when, token_expires_at=None,
                            jobs_active=1, jobs_total=2, experiences=1)


def _job(h: str) -> JobRow:
    return JobRow(id=h, name=h, workflow=h, status=h, created=None, managed_name=h)


@pytest.mark.parametrize("color", [False, True], ids=["plain", "colour"])
@pytest.mark.parametrize("key", IDS)
def test_status_and_show_show_data_as_data(key: str, color: bool) -> None:
    h = HOSTILE[key]
    for hostile, benign in [
        (status_table([_row(h), _row("other " + h)]), status_table([_row(BENIGN), _row("other " + BENIGN)])),
        (show_view(_row(h), [_job(h), _job(h + "2")], RequestCounts(1, 2, 3, 4)),
         show_view(_row(BENIGN), [_job(BENIGN), _job(BENIGN + "2")], RequestCounts(1, 2, 3, 4))),
    ]:
        out = terminal(hostile, color=color)
        assert_terminal_safe(out)
        assert out.count("\n") == terminal(benign, color=color).count("\n")
    assert _row(h).to_json()["label"] == h and _job(h).to_json()["name"] == h


def test_status_in_a_narrow_terminal_folds_without_escapes() -> None:
    c = console(True, width=60)
    c.print(status_table([_row(HOSTILE["long"]), _row(HOSTILE["osc-title"])]))
    assert_terminal_safe(c.file.getvalue())  # type: ignore[attr-defined]


# -- provider catalog (a workspace may bring its own) -----------------------------------------------
@pytest.mark.parametrize("key", IDS)
def test_catalog_views_show_data_as_data(key: str) -> None:
    h = HOSTILE[key]
    base = catalog()
    fb = base.providers["facebook"]
    methods = {name: dataclasses.replace(m, title=h, warnings=(h,), workflows=(h, *m.workflows),
                                         fields=tuple(dataclasses.replace(f, title=h, pattern=h) for f in m.fields))
               for name, m in fb.methods.items()}
    provider = dataclasses.replace(fb, title=h, methods=methods)
    hostile_catalog = Catalog(**{**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
                                 "providers": {**base.providers, "facebook": provider}})
    for renderable in (providers_table(hostile_catalog), provider_detail(provider)):
        for color in (False, True):
            assert_terminal_safe(terminal(renderable, color=color))
    assert "[recommended]" in terminal(provider_detail(provider), color=False)


# -- apply lines and errors -----------------------------------------------------------------------
@pytest.mark.parametrize("key", IDS)
def test_apply_lines_show_data_as_data(key: str, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.cli.apply_commands import PlainHook

    monkeypatch.setenv("COLUMNS", "100000")  # no wrapping: one line per step
    h = HOSTILE[key]
    hook = PlainHook()
    for code in (ResultCode.BLOCKED, ResultCode.FAILED, ResultCode.APPLIED):
        hook.on_step_done(1, 3, StepResult(address=f"Authorization/{h}", operation="delete", code=code,
                                           message=f"used by job {h} (id {h})"))
    out = capsys.readouterr().out
    assert_terminal_safe(out)
    assert out.count("\n") == 3


@pytest.mark.parametrize("key", IDS)
def test_errors_show_data_as_data(key: str, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    h = HOSTILE[key]
    error = AuthctlError(f"cannot delete {h}: used by job {h}", hint=f"stop {h} first")
    monkeypatch.setattr(output, "STATE", output.CliState())
    output.report_error(error)
    output.report_error(RuntimeError(h))
    err = capsys.readouterr().err
    assert_terminal_safe(err)
    assert "internal error: RuntimeError" in err
    monkeypatch.setattr(output, "STATE", output.CliState(json_errors=True))
    output.report_error(error)
    document = capsys.readouterr().out
    assert FORBIDDEN.search(document.replace("\n", "")) is None
    payload: dict[str, Any] = json.loads(document)
    assert payload["error"]["message"] == error.message and payload["error"]["hint"] == error.hint
