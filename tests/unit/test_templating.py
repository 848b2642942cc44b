"""The expression fast path must render exactly what full Jinja renders, or step aside."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import DiagnosticSink
from reconciler.manifest import templating
from reconciler.manifest.templating import _render_template, jinja_environment, render

ENV = jinja_environment()
VARS = {"x": "X", "y": "yy", "n": 1, "nothing": None, "items": [1, 2], "nested": {"k": "v"}}


def _both(text: str) -> tuple[tuple[str | None, list], tuple[str | None, list]]:
    fast, full = DiagnosticSink(), DiagnosticSink()
    return ((render(ENV, text, "f.yaml", VARS, fast), fast.items),
            (_render_template(ENV, text, "f.yaml", VARS, full), full.items))


@pytest.mark.parametrize("text", [
    "a: {{ x }}\nb: \"{{ y | upper }}\"\nc: {{ n + 1 }}\n",
    "d: {{ \"}}\" }}\n",                      # '}}' inside a string: falls back to Jinja
    "e: {{- x }}\n",                          # whitespace control: falls back
    "f: {{ nothing }}\n",
    "g: {{ x ~ '-' ~ y }}\n{{ x }}\n",
    "h: {{ x.__class__ }}\n",                 # sandbox refusal, same message both ways
    "i: {{ items | join(',') }} {{ nested.k }}\n",
    "j: {{ missing }}\n",                     # StrictUndefined, with the line
    "k: {{ n | int + 'a' }}\n",               # a failing expression: full Jinja reports it
    "l: {% if n %}yes{% endif %}\n",          # block tags always use full Jinja
    "m: {{ }}\n",                             # syntax error
])
def test_fast_path_matches_full_jinja(text: str) -> None:
    (fast, fast_diags), (full, full_diags) = _both(text)
    assert fast == full
    assert [(d.line, d.message) for d in fast_diags] == [(d.line, d.message) for d in full_diags]


def test_fast_path_is_taken_for_plain_substitutions(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("full template compile should not be needed")

    monkeypatch.setattr(templating, "_render_template", refuse)
    assert render(ENV, "a: {{ x }}\n" * 1000, "f.yaml", VARS, DiagnosticSink()) == "a: X\n" * 1000


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["{{ x }}", "{{ y|upper }}", "{{ n * 2 }}", "{{", "}}", "{{ '}}' }}",
                                           "\n", "---\n", "{{ items[0] }}", "{{ nested['k'] }}"]),
                          st.text(alphabet="ab :-\"'{}\n", max_size=8)), max_size=12))
def test_any_text_renders_the_same_both_ways(pieces: list[str]) -> None:
    text = "".join(pieces)
    (fast, fast_diags), (full, full_diags) = _both(text)
    assert fast == full
    assert bool(fast_diags) == bool(full_diags)
