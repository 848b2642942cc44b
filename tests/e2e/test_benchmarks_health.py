"""Smoke test of benchmarks/health_scale.py: a tiny run prints the JSON it promises and exits 0.

The shape only, never the timings (the benchmark itself never asserts on them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "health_scale.py"


def test_health_benchmark_prints_its_json(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--auths", "30", "--grants", "3", "--latency-ms", "0"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["benchmark"] == "health_scale" and data["authorizations"] == 30
    assert {"seconds", "cpu_seconds", "peak_rss_mib", "provider_requests", "floor_seconds", "target_seconds",
            "meets_target", "python", "cpus", "load_average"} <= data.keys()
    assert data["healthy_per_run"] == [30] and data["exit_codes"] == [0]
    assert data["provider_requests"]["me"] == 30 and data["provider_requests"]["token"] == 0
