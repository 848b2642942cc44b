"""Saved plan files (``authctl plan -o plan.json``): written atomically with mode 0600, read back as a Plan.

A plan file is the plan's JSON (``plan_codec``) with every action's preconditions, the
state serial and lineage and the manifest digest, so that ``authctl apply plan.json``
can refuse a plan the world has moved past. It holds no secret values.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from reconciler.errors import PlanFileError
from reconciler.plan import FORMAT_VERSION, Plan
from reconciler.plan_codec import PLAN_FILE_KIND, plan_file_dict, plan_from_dict


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


def read_plan_file(path: Path) -> Plan:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError(f"{path}: plan file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanFileError(f"{path}: not a readable plan file ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != PLAN_FILE_KIND:
        raise PlanFileError(f"{path}: not an authctl plan file (make one with `authctl plan -o FILE`)")
    if data.get("format_version") != FORMAT_VERSION:
        raise PlanFileError(f"{path}: plan format {data.get('format_version')!r} is not supported "
                         f"(this authctl reads {FORMAT_VERSION!r})")
    try:
        return plan_from_dict(data)
    except PlanFileError as exc:
        raise PlanFileError(f"{path}: not a readable plan file ({exc})") from None
