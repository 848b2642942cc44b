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
from reconciler.file_reads import FileRefused, limit_text, read_regular_file
from reconciler.plan import FORMAT_VERSION, Plan
from reconciler.plan_codec import PLAN_FILE_KIND, plan_file_dict, plan_from_dict


# A plan of 60,000 actions is about 60 MiB of JSON; anything far larger is not a plan.
MAX_PLAN_FILE_BYTES = 512 * 1024 * 1024


def write_plan_file(path: Path, plan: Plan) -> None:
    """Write the plan to ``path`` atomically, mode 0600; PlanFileError naming the file if it cannot be written."""
    # ASCII with \u escapes: any string a platform sends (a lone surrogate included) round-trips exactly.
    text = json.dumps(plan_file_dict(plan), indent=2, ensure_ascii=True, default=str) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".plan-", dir=path.parent)
    except OSError as exc:
        in_the_way = isinstance(exc, FileExistsError | NotADirectoryError)
        reason = f"{path.parent} is not a folder" if in_the_way else _reason(exc)
        raise PlanFileError(f"plan file {path} cannot be written: {reason}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise PlanFileError(f"plan file {path} cannot be written: {_reason(exc)}") from None
        raise


def _reason(exc: OSError) -> str:
    return "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc)).lower()


def read_plan_file(path: Path) -> Plan:
    """The Plan saved in ``path``; PlanFileError naming the file and the first problem otherwise.

    Every way a file can be wrong is one line: missing or unreadable, not JSON, not a plan,
    another format version, or a field missing or of the wrong type
    (``plan file X is not a valid authctl plan: actions[0].address: expected a string, got an integer``).
    """
    invalid = f"plan file {path} is not a valid authctl plan"
    try:
        data = json.loads(read_regular_file(path, MAX_PLAN_FILE_BYTES).decode("utf-8"))
    except FileRefused as exc:
        reason = f"it is larger than {limit_text(MAX_PLAN_FILE_BYTES)}" if exc.too_large else f"it {exc.reason}"
        raise PlanFileError(f"plan file {path} cannot be read: {reason}") from None
    except FileNotFoundError:
        raise PlanFileError(f"{path}: plan file not found") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{invalid}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{invalid}: line {exc.lineno}: not JSON ({exc.msg})") from None
    except RecursionError:
        raise PlanFileError(f"{invalid}: nested too deeply") from None
    except OSError as exc:
        raise PlanFileError(f"plan file {path} cannot be read: {_reason(exc)}") from None
    if not isinstance(data, dict) or data.get("kind") != PLAN_FILE_KIND:
        raise PlanFileError(f"{path}: not an authctl plan file (make one with `authctl plan -o FILE`)")
    if data.get("format_version") != FORMAT_VERSION:
        raise PlanFileError(f"{path}: plan format {data.get('format_version')!r} is not supported "
                            f"(this authctl reads {FORMAT_VERSION!r})")
    try:
        return plan_from_dict(data)
    except PlanFileError as exc:
        raise PlanFileError(f"{invalid}: {exc}") from None
