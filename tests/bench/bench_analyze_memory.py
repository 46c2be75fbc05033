"""`rig analyze` within 300 MB on any input size (issue 21: 1 000 000 distinct rows peaked at 955 MB in the main
process and 2.3 GB over its workers; a Pi Zero 2 W has 512 MB).

Physics stated: the readings of bench_analyze.py (a production-spread unit behind T = 0.05: 660 + 850 nm, 630 nm,
850 nm wraps at 1-100 mW/cm2, one row in ten off), 20 000 of them, repeated to N rows with every count moved by
-2..+2 (shot noise of a re-read): no two rows repeat, so every row is estimated. `rig analyze` runs as a user runs
it (a fresh process, its workers as many as the memory allows), on N / 10 rows and on N rows (default 1 000 000;
RIG_BENCH_ANALYZE_ROWS to change it).

Measured from outside while it runs (every 0.2 s from /proc): each process's peak resident memory (VmHWM: shared
pages counted in every process), and the peak of the total proportional memory (Pss summed over the main process
and its workers: shared pages counted once, what the machine really gives). Cross-check: getrusage(RUSAGE_CHILDREN)
maxrss (the largest single process). Printed: rows, seconds, rows/s, workers, the peaks. Asserted: every row comes
out, in order; each process < 300 MB; the total < 300 MB; the peak at N within 20 % of the peak at N / 10 (memory
does not grow with the input).
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from bench_analyze import T, counts_csv

from rig.chips import DEFAULT_CHIP

ROWS = int(os.environ.get("RIG_BENCH_ANALYZE_ROWS", "1000000"))
BASE_ROWS = 20_000
LIMIT_MB = 300.0
RIG = Path(sys.executable).with_name("rig")


def big_counts_csv(base: Path, path: Path, rows: int, seed: int = 1) -> None:
    """``rows`` readings: the base table repeated, each count moved by -2..+2 (all rows distinct)."""
    import pandas as pd

    table = pd.read_csv(base)
    counts = table[list(DEFAULT_CHIP.channels)].to_numpy(dtype=np.int64)
    rest = table[["gain_x", "t_int_ms", "saturated"]].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*DEFAULT_CHIP.channels, "gain_x", "t_int_ms", "saturated"])
        for start in range(0, rows, len(counts)):
            take = min(len(counts), rows - start)
            moved = np.clip(counts[:take] + rng.integers(-2, 3, size=(take, len(DEFAULT_CHIP.channels))), 0, 65535)
            writer.writerows([*map(str, c), *r] for c, r in zip(moved.tolist(), rest[:take].tolist(), strict=True))


def _tree(root: int) -> list[int]:
    """``root`` and every process under it."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo += [int(c) for c in handle.read().split()]
        except OSError:
            continue
    return found


def _kb(path: str, key: str) -> float:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(key):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


class Watch(threading.Thread):
    """Samples the memory of a process tree until it ends: per-process peak RSS (VmHWM), peak summed Pss."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.hwm_mb, self.total_pss_mb, self.total_rss_mb, self.done = pid, {}, 0.0, 0.0, False

    def run(self) -> None:
        while not self.done:
            pss = rss = 0.0
            for pid in _tree(self.pid):
                hwm = _kb(f"/proc/{pid}/status", "VmHWM:") / 1024
                if hwm:
                    self.hwm_mb[pid] = max(self.hwm_mb.get(pid, 0.0), hwm)
                pss += _kb(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024
                rss += _kb(f"/proc/{pid}/status", "VmRSS:") / 1024
            self.total_pss_mb, self.total_rss_mb = max(self.total_pss_mb, pss), max(self.total_rss_mb, rss)
            time.sleep(0.2)


def analyse(source: Path, out: Path, rows: int) -> dict:
    start = time.perf_counter()
    process = subprocess.Popen([str(RIG), "analyze", str(source), "--transmission", str(T), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=source.parent)
    watch = Watch(process.pid)
    watch.start()
    stdout, stderr = process.communicate(timeout=6 * 3600)
    watch.done = True
    watch.join()
    seconds = time.perf_counter() - start
    assert process.returncode == 0, stdout + stderr
    peaks = sorted(watch.hwm_mb.values(), reverse=True)
    result = {"rows": rows, "seconds": seconds, "main_mb": watch.hwm_mb.get(process.pid, 0.0),
              "worker_mb": peaks[1:] and max(v for p, v in watch.hwm_mb.items() if p != process.pid),
              "workers": len(peaks) - 1, "total_pss_mb": watch.total_pss_mb, "total_rss_mb": watch.total_rss_mb,
              "largest_getrusage_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    print(f"\nrig analyze {rows} distinct rows: {seconds:.0f} s = {rows / seconds:.0f} rows/s on {os.cpu_count()} "
          f"CPUs, {result['workers']} worker process(es); peak resident: main {result['main_mb']:.0f} MB, "
          f"largest worker {result['worker_mb'] or 0:.0f} MB; total Pss {result['total_pss_mb']:.0f} MB "
          f"(sum of RSS {result['total_rss_mb']:.0f} MB); getrusage largest process "
          f"{result['largest_getrusage_mb']:.0f} MB (limit {LIMIT_MB:.0f} MB)")
    return result


def test_rig_analyze_memory_stays_bounded(tmp_path):
    base = tmp_path / "base.csv"
    counts_csv(base, BASE_ROWS)
    results = []
    for rows in (ROWS // 10, ROWS):
        source, out = tmp_path / f"counts-{rows}.csv", tmp_path / f"analyzed-{rows}.csv"
        big_counts_csv(base, source, rows)
        results.append(analyse(source, out, rows))
        with source.open() as a, out.open() as b:  # every row, in order (F1..NIR as read)
            lines = 0
            for line_in, line_out in zip(a, b, strict=True):
                assert line_out.split(",")[:10] == line_in.split(",")[:10]
                lines += 1
        assert lines == rows + 1
        out.unlink()
        source.unlink()
    small, large = results
    for result in results:
        assert result["main_mb"] < LIMIT_MB and (result["worker_mb"] or 0) < LIMIT_MB
        assert result["total_pss_mb"] < LIMIT_MB
    assert large["total_pss_mb"] <= 1.2 * small["total_pss_mb"]
    assert large["main_mb"] <= 1.2 * small["main_mb"]
