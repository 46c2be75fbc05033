"""Comparing 1000 runs vs a bare pandas read of the same files; the HTML report in a real browser if present."""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd

from rig.analysis import make_deriver
from rig.compare import check_mixing, compare_table
from rig.config import load_bench_config
from rig.load import load_runs
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.report import build_report
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec

RUNS = 1000


def make_runs(base: Path) -> Path:
    profile = WrapProfile(maker="Acme", model="Belt", unit="u0",
                          modes=[ModeProfile("red", 0, Claims(red_peak_nm=660.0, irradiance_mw_cm2=40.0))])
    sequence = Sequence(phases=[Phase("dark", 2.0, 1.0), Phase("on"), Phase("measure", 5.0, 1.0), Phase("off")])
    spec = WrapSpec(strings=[LedString("red", 660.0, 20.0, 40.0)], modes=[WrapMode("red", ["red"])])
    config = load_bench_config(backend="sim")
    template = run_sequence(profile.validate(), sequence.validate(), lambda: build_sim_bench(config, spec),
                            base / "template", derive=make_deriver()).run_dir
    runs = base / "runs"
    for index in range(RUNS):
        target = runs / f"run{index:04d}"
        shutil.copytree(template, target)
        manifest = json.loads((target / "run.json").read_text())
        manifest["run_id"] = target.name
        manifest["profile"]["as_used"]["unit"] = f"u{index % 10}"
        manifest["start_time"] = f"2026-{1 + index % 12:02d}-15T10:00:00+00:00"
        (target / "run.json").write_text(json.dumps(manifest))
    return runs


def test_compare_1000_runs_against_a_bare_pandas_read(tmp_path):
    runs = make_runs(tmp_path)
    folders = sorted(runs.glob("[!.]*"))
    start = time.perf_counter()
    frames = [pd.read_csv(folder / "summary.csv") for folder in folders]
    manifests = [json.loads((folder / "run.json").read_text()) for folder in folders]
    bare_s = time.perf_counter() - start
    assert len(frames) == len(manifests) == RUNS
    start = time.perf_counter()
    loaded = load_runs([runs])
    check_mixing(loaded, allow_mixed=False)
    table = compare_table(loaded, by="unit")
    rig_s = time.perf_counter() - start
    assert len(loaded.runs) == RUNS and len(table) == 10
    print(f"\n{RUNS} runs: bare pandas read of summary.csv + run.json {bare_s:.3f} s; "
          f"rig load + compare --by unit {rig_s:.3f} s; ratio {rig_s / bare_s:.2f} (target <= 2)")
    assert rig_s / bare_s <= 2.0


def test_html_report_in_a_headless_browser(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    runs = make_runs(tmp_path) if browser else None
    if not browser:
        print("\nheadless browser check skipped: no chromium (apt-get install chromium)")
        return
    report = build_report(next(runs.glob("[!.]*")), None, tmp_path / "report")
    import re

    import matplotlib.image

    without_images = tmp_path / "report" / "no-images.html"
    without_images.write_text(re.sub(r"<img [^>]*>", "", report.read_text()))

    def ink(page: Path) -> float:
        """Fraction of non-white pixels in a headless screenshot of ``page``."""
        shot = tmp_path / f"{page.stem}.png"
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1000,3000",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
        pixels = matplotlib.image.imread(shot)
        return float((pixels[..., :3].min(axis=2) < 0.95).mean())

    with_plots, text_only = ink(report), ink(without_images)
    print(f"\nheadless {Path(browser).name}: {with_plots:.1%} of the page inked with the images, "
          f"{text_only:.1%} without them: the embedded plots load and draw")
    assert with_plots > 1.5 * text_only
