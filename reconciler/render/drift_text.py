"""``authctl plan --refresh-only`` for terminals and CI logs: summary first, one block per drift, summary last.

Renders the JSON form (render/drift_json.py) with the wording of render/drift_words.py
and computes nothing. Every line is a rich ``Text`` made by ``plan_text.line`` (never a
markup string), so labels and names typed in a platform's UI print as they are, with
control and invisible characters shown as escapes (render/escape.py).
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from reconciler.drift import DriftReport
from reconciler.render.drift_json import drift_to_dict
from reconciler.render.drift_words import SYMBOLS, accepted_line, details, head, hint
from reconciler.render.plan_text import LONG_PLAN_LINES, line

STYLES = {"-": "red", "~": "yellow", "+": "cyan"}
CLOSING = ("Nothing was changed. `authctl plan` shows what the next apply does about it; "
           "to keep a change, change the manifests to match.")


def entry_lines(entry: dict[str, Any]) -> list[Text]:
    symbol = SYMBOLS.get(entry["kind"], "~")
    lines = [line(f"{symbol} {head(entry)}", style=STYLES[symbol])]
    lines += [line(f"    {text}") for text in details(entry)]
    lines.append(line(f"    -> {hint(entry)}", style="dim"))
    return lines


def render_drift_text(report: DriftReport) -> RenderableType:
    data = drift_to_dict(report)
    style = "bold yellow" if data["has_drift"] else "bold"
    parts: list[RenderableType] = [Text(data["summary_line"], style=style)]
    body: list[Text] = []
    for entry in data["drift"]:
        body.append(Text(""))
        body.extend(entry_lines(entry))
    parts.extend(body)
    accepted = accepted_line(data)
    if accepted:
        parts += [Text(""), line(accepted, style="dim")]
    if data["has_drift"]:
        parts += [Text(""), Text(CLOSING)]
        if len(body) > LONG_PLAN_LINES:
            parts += [Text(""), Text(data["summary_line"], style=style)]
    return Group(*parts)
