"""``authctl plan --refresh-only --format markdown``: the drift report as an issue or pull-request comment.

Rendered from the JSON form with the wording of render/drift_words.py. Every value from
the platform or the state store lands in a code span (``markdown_code``: shortened,
flattened, fenced with more backticks than it holds), so a label cannot add headings,
links, HTML or @mentions; the words around them are authctl's own. Capped at the plan
comment's size (render/markdown_fit.py), with a note saying how many are not shown.
"""

from __future__ import annotations

from typing import Any

from reconciler.drift import DriftReport
from reconciler.render.drift_json import drift_to_dict
from reconciler.render.drift_words import NOUNS, SYMBOLS, accepted_line, details, head, hint, plain_value
from reconciler.render.escape import markdown_code, markdown_text
from reconciler.render.markdown_fit import MAX_CHARS, fit_blocks, size_of

TITLE = "### authctl drift"


def _value(value: Any) -> str:
    return markdown_code(plain_value(value))


def _entry_block(entry: dict[str, Any]) -> list[str]:
    symbol = SYMBOLS.get(entry["kind"], "~")
    lines = [f"- `{symbol}` {head(entry, code=markdown_code)}"]
    lines += [f"  - {text}" for text in details(entry, code=markdown_code, value=_value)]
    lines.append(f"  - → {hint(entry, code=markdown_code)}")
    return lines


def render_drift_markdown(report: DriftReport) -> str:
    data = drift_to_dict(report)
    summary, ctx = data["summary"], data["context"]
    out = [TITLE, "", f"**{markdown_text(data['summary_line'], limit=None)}**", ""]
    kinds = [kind for kind in NOUNS if summary[kind]]
    if kinds:
        out += ["| " + " | ".join(NOUNS[k][1] for k in kinds) + " |", "|" + "---:|" * len(kinds),
                "| " + " | ".join(str(summary[k]) for k in kinds) + " |", ""]
    footer = [f"<sub>environment {markdown_code(ctx['environment'] or 'default')} · backend "
              f"{markdown_code(ctx['backend'])} · state serial {ctx['state_serial']} · nothing was changed</sub>", ""]
    accepted = accepted_line(data)
    if accepted:
        footer = [f"_{markdown_text(accepted, limit=None)}_", "", *footer]
    out += fit_blocks(map(_entry_block, data["drift"]), len(data["drift"]), size_of(out + footer), lambda left: [
        "", f"_… {left:,} more not shown: the comment is limited to {MAX_CHARS:,} characters. "
            "Run `authctl plan --refresh-only` for all of them._"])
    return "\n".join([*out, "", *footer])
