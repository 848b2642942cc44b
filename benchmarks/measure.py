"""Measuring one command the same way in every benchmark: wall, CPU, peak RSS, exit code.

Each command runs under GNU time when it is there (``%U %S %M``), else under a small Python
parent that reads ``getrusage(RUSAGE_CHILDREN)``: either way the figures are the command's
own (and its children's), not the benchmark's. CPU seconds are reported beside wall
seconds because on a busy 2-core machine wall time says more about the neighbours.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GNU_TIME = "/usr/bin/time"

_WRAPPER = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'wb') as out, open(sys.argv[2], 'wb') as err:\n"
    "    code = subprocess.call(sys.argv[4:], stdout=out, stderr=err)\n"
    "use = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "kib = use.ru_maxrss // (1024 if sys.platform == 'darwin' else 1)  # bytes on macOS, KiB elsewhere\n"
    "with open(sys.argv[3], 'w') as f:\n"
    "    f.write(f'{use.ru_utime:.2f} {use.ru_stime:.2f} {kib}')\n"
    "sys.exit(code)\n"
)


def gnu_time_available() -> bool:
    if sys.platform == "darwin" or not os.access(GNU_TIME, os.X_OK):
        return False
    probe = subprocess.run([GNU_TIME, "-f", "%M", "true"], capture_output=True, text=True)
    lines = probe.stderr.strip().splitlines()
    return probe.returncode == 0 and bool(lines) and lines[-1].isdigit()


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: wall times mean little on a busy machine."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _parse_usage(text: str) -> tuple[float | None, float | None]:
    """'USER_SECONDS SYSTEM_SECONDS PEAK_KIB' (the last line) -> (cpu seconds, peak RSS MiB)."""
    lines = text.strip().splitlines()  # GNU time may write "Command exited with ..." first
    try:
        user, system, kib = lines[-1].split()
        return round(float(user) + float(system), 2), round(int(kib) / 1024, 1)
    except (IndexError, ValueError):
        return None, None


@dataclass
class Run:
    seconds: float
    rss_mib: float | None
    cpu_seconds: float | None  # user + system of the command and its children
    code: int
    stdout_path: Path
    stderr_path: Path

    @property
    def stdout(self) -> bytes:
        return self.stdout_path.read_bytes()

    @property
    def stderr(self) -> bytes:
        return self.stderr_path.read_bytes()

    def tail(self) -> str:
        return (self.stderr_path.read_text(errors="replace")[-3000:] + "\n"
                + self.stdout_path.read_text(errors="replace")[-2000:])


def run_measured(cmd: list[str], env: dict[str, str], out_dir: Path, tag: str = "run", *,
                 cwd: Path | None = None, gnu: bool = True) -> Run:
    """Run ``cmd`` once; its output goes to ``out_dir/TAG.stdout|.stderr``."""
    out, err, usage = out_dir / f"{tag}.stdout", out_dir / f"{tag}.stderr", out_dir / f"{tag}.usage"
    usage.unlink(missing_ok=True)
    if gnu:
        with open(out, "wb") as o, open(err, "wb") as e:
            start = time.perf_counter()
            code = subprocess.call([GNU_TIME, "-f", "%U %S %M", "-o", str(usage), *cmd], stdout=o, stderr=e,
                                   env=env, cwd=cwd)
            seconds = time.perf_counter() - start
    else:
        start = time.perf_counter()
        code = subprocess.call([sys.executable, "-c", _WRAPPER, str(out), str(err), str(usage), *cmd],
                               env=env, cwd=cwd)
        seconds = time.perf_counter() - start
    cpu, rss = _parse_usage(usage.read_text()) if usage.exists() else (None, None)
    return Run(seconds, rss, cpu, code, out, err)


def series(runs: list[Run]) -> dict[str, Any]:
    """min/median/all of repeated runs, with CPU, peak RSS and the exit codes seen."""
    secs = [round(r.seconds, 3) for r in runs]
    rss = [r.rss_mib for r in runs if r.rss_mib is not None]
    cpu = [r.cpu_seconds for r in runs if r.cpu_seconds is not None]
    return {"seconds": {"min": min(secs), "median": round(statistics.median(secs), 3), "runs": secs},
            "cpu_seconds": {"median": round(statistics.median(cpu), 2), "runs": cpu} if cpu else None,
            "peak_rss_mib": max(rss) if rss else None, "rss_mib_runs": rss,
            "exit_codes": sorted({r.code for r in runs})}
