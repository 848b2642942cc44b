"""``authctl plan --format json``: the plan's versioned JSON document (``plan_codec`` owns the format).

Strings stay exact (``json.loads`` returns them unchanged); control, bidi and invisible
code points are written as ``\\uXXXX`` escapes so the document is safe to show (render/escape.py).
"""

from __future__ import annotations

import json

from reconciler.plan import Plan
from reconciler.plan_codec import plan_to_dict
from reconciler.render.escape import json_text


def render_json(plan: Plan) -> str:
    return json_text(json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False, default=str)) + "\n"
