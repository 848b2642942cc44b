"""Smoke test of benchmarks/export_scale.py: a tiny run prints the JSON it promises and exits 0.

The shape only, never the timings (the benchmark itself never asserts on them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "export_scale.py"


def test_export_benchmark_prints_its_json(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--auths", "40", "--jobs", "120", "--files", "4",
                             "--repeat", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["benchmark"] == "export_scale" and (data["authorizations"], data["jobs"]) == (40, 120)
    assert {"export", "review", "import", "plan_back", "export_plus_plan_seconds", "target", "meets_target",
            "python", "cpus", "load_average_at_start", "load_average_at_end"} <= data.keys()
    for step in ("export", "import", "plan_back"):
        assert {"seconds", "cpu_seconds", "peak_rss_mib", "exit_codes"} <= data[step].keys(), step
        assert data[step]["exit_codes"] == [0], step
    assert data["export"]["secret_variables"] == 40 and data["export"]["skipped"] == 0
    assert data["review"]["config_values_filled"] == data["export"]["config_to_fill"]
    assert data["plan_back"]["summary"]["noop"] == 160 and data["plan_back"]["warning_rules"] == ["secret-not-recorded"]
