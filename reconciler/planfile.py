"""Saved plan files (``authctl plan -o plan.json``): versioned JSON, no secret values.

A plan file carries the actions with their preconditions, the state serial and lineage,
and the manifest digest, so that ``authctl apply plan.json`` can refuse a plan that the
world has moved past. Written atomically (temp file + rename) with mode 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from reconciler.errors import UsageError
from reconciler.plan import FORMAT_VERSION, Plan
from reconciler.render.plan_json import plan_to_dict

FILE_KIND = "authctl-plan"


def plan_file_dict(plan: Plan) -> dict[str, Any]:
    data = plan_to_dict(plan, with_preconditions=True)
    data["kind"] = FILE_KIND
    return data


def write_plan_file(path: Path, plan: Plan) -> None:
    text = json.dumps(plan_file_dict(plan), indent=2, ensure_ascii=False, default=str) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_plan_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: plan file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a readable plan file ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != FILE_KIND:
        raise UsageError(f"{path}: not an authctl plan file (make one with `authctl plan -o FILE`)")
    if data.get("format_version") != FORMAT_VERSION:
        raise UsageError(f"{path}: plan format {data.get('format_version')!r} is not supported "
                         f"(this authctl reads {FORMAT_VERSION!r})")
    return data
