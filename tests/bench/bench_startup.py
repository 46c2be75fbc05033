"""Start-up cost on the Pi's path: `rig run --help`, and a simulated run's start up to its first sample (the first
data row of samples.csv), each the median wall time of several fresh processes. Prints seconds; asserts nothing
about speed (a benchmark, not a timed test), only that the run sampled."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPEATS = 7
SEQUENCE = """name = "start-up"
[[phases]]
kind = "dark"
duration_s = 60
interval_s = 1
[[phases]]
kind = "on"
[[phases]]
kind = "measure"
duration_s = 5
interval_s = 1
[[phases]]
kind = "off"
"""


def _median_s(argv: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _first_sample_s(tmp_path: Path) -> float:
    """From launching `rig run --sim` to the first data row in samples.csv (the run is then stopped)."""
    (tmp_path / "s.toml").write_text(SEQUENCE)
    out = tmp_path / f"r{time.monotonic_ns()}"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rig.cli", "run", "--sim", "--sim-pace", "1", "--wrap",
                             str(ROOT / "rig/data/example_profile.toml"), "--sequence", str(tmp_path / "s.toml"),
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            found = list(out.glob("*/samples.csv"))
            if found and len(found[0].read_text().splitlines()) >= 2:
                return time.perf_counter() - start
            if proc.poll() is not None:
                raise AssertionError("the run ended before its first sample")
            time.sleep(0.005)
    finally:
        proc.terminate()
        proc.wait()


def test_startup_of_rig_run(tmp_path):
    python = _median_s([sys.executable, "-c", "pass"])
    help_s = _median_s([sys.executable, "-m", "rig.cli", "run", "--help"])
    first = statistics.median(_first_sample_s(tmp_path) for _ in range(REPEATS))
    print(f"\npython itself: {python:.3f} s; `rig run --help`: {help_s:.3f} s; "
          f"`rig run --sim` to its first sample: {first:.3f} s (medians of {REPEATS})")
