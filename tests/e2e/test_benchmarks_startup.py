"""Smoke test of benchmarks/startup.py: a tiny run prints the JSON it promises and exits 0.

It checks the shape only, never the timings (the benchmark itself never asserts on them).
The console script timed is the one beside this interpreter (the project venv's authctl).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "startup.py"
COMMANDS = {"python_floor", "version", "module_version", "validate", "plan"}


def test_startup_benchmark_prints_its_json(tmp_path: Path) -> None:
    authctl = Path(sys.executable).parent / "authctl"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeat", "1", "--size", "20", "--skip-terraform", "--authctl", str(authctl)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)

    assert data["benchmark"] == "startup"
    assert {"authctl", "authctl_root", "interpreter", "repeat", "size", "commands", "terraform", "ratios",
            "target", "meets_target", "meets_target_detail", "python", "cpus",
            "load_average_at_start", "load_average_at_end"} <= data.keys()
    assert set(data["commands"]) == COMMANDS
    for name in COMMANDS:
        command = data["commands"][name]
        assert {"min", "median", "runs"} <= command["seconds"].keys(), name
        assert len(command["seconds"]["runs"]) == 1, name
        assert "peak_rss_mib" in command, name
        assert command["exit_codes"] == [0], name
    assert data["size"] == 20 and data["commands"]["plan"]["authorizations"] == 20
    assert data["terraform"] == {"skipped": "--skip-terraform"}
    assert {"version_vs_floor", "module_version_vs_floor", "validate_vs_floor", "terraform_vs_plan"} <= \
        data["ratios"].keys()
    assert data["ratios"]["terraform_vs_plan"] is None
    assert data["target"]["version_vs_floor_at_most"] == 3.0
    assert data["target"]["terraform_vs_plan_at_least"] == 5.0
    assert isinstance(data["meets_target"], bool)
    assert data["meets_target_detail"]["plan_vs_terraform"] is None
