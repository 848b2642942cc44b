"""``authctl plan --format json``: the plan's versioned JSON document (``plan_codec`` owns the format)."""

from __future__ import annotations

import json

from reconciler.plan import Plan
from reconciler.plan_codec import plan_to_dict


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False, default=str) + "\n"
