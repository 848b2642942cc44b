"""Smoke test of benchmarks/ui_scale.py: a tiny run prints the JSON it promises and exits 0.

The shape and the sizes only, never the timings (the benchmark itself never asserts on them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ui_scale.py"
REQUESTS = {"list_first_page", "list_sorted_page", "authorization_500_jobs", "list_filtered", "jobs_sorted_page",
            "api_authorization_500_jobs"}


def test_ui_benchmark_prints_its_json(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--auths", "40", "--jobs", "120", "--target-jobs", "30",
                             "--repeat", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    assert data["benchmark"] == "ui_scale"
    assert (data["authorizations"], data["jobs"], data["target_jobs"]) == (40, 120, 30)
    assert data["managed_objects"] == data["authorizations"] + data["jobs_not_deleted"]
    assert set(data["requests"]) == REQUESTS
    for name, measured in data["requests"].items():
        assert {"path", "cold_seconds", "bytes", "seconds"} <= measured.keys(), name
        assert len(measured["seconds"]["runs"]) == 1 and measured["bytes"] > 0
    assert {"startup_seconds", "server_peak_rss_mib", "target", "meets_target", "python", "cpus",
            "load_average_at_start"} <= data.keys()
    assert data["server_exit_code"] == 0 and data["target"]["seconds"] == 0.3
