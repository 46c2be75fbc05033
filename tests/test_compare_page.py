"""The comparison page draws each wrap model's own claim band, says bands differ only where they do, keeps
runs of one day apart, and lays out without overlaps or clipped names; `--by model` flags the odd unit out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from rig.config import load_bench_config
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.reporting.compare import compare_table
from rig.reporting.compare_page import build_compare_page, claims_figure, run_times
from rig.results.load import load_runs
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec
from rig.spectrum.derive import make_deriver

SEQUENCE = Sequence(name="short", phases=[
    Phase("dark", 3.0, 1.0), Phase("on"), Phase("warmup", 6.0, 2.0), Phase("measure", 8.0, 1.0), Phase("off"),
]).validate()
# two models: "Small" claims 660 nm at 40 mW/cm2 (band 32-48), "Big Wrap With A Long Name" 660 nm at 60 (48-72)
MODELS = {"Small": 40.0, "Big Wrap With A Long Name": 60.0}


def _run(base: Path, model: str, unit: str, mw_cm2: float, seed: int) -> Path:
    claims = Claims(red_peak_nm=660.0, irradiance_mw_cm2=MODELS[model])
    profile = WrapProfile(maker="Acme", model=model, unit=unit, modes=[ModeProfile("red", 0, claims)]).validate()
    spec = WrapSpec(strings=[LedString("red", 660.0, 20.0, mw_cm2)], modes=[WrapMode("red", ["red"])],
                    droop_fraction=0.0)
    config = load_bench_config(backend="sim")
    result = run_sequence(profile, SEQUENCE, lambda: build_sim_bench(config, spec, seed=seed), base,
                          derive=make_deriver())
    assert result.outcome == "COMPLETED", result.reason
    return result.run_dir


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fleet")
    _run(base, "Small", "s1", 40.0, 1)
    _run(base, "Small", "s2", 41.0, 2)
    _run(base, "Small", "s3", 39.0, 3)
    _run(base, "Small", "s4", 22.0, 4)  # the odd one out: 55 % of its siblings' light
    _run(base, "Big Wrap With A Long Name", "b1", 60.0, 5)
    _run(base, "Big Wrap With A Long Name", "b2", 61.0, 6)
    return base


def _bands_by_row(figure, axis_index: int) -> list[tuple[float, float, float]]:
    axis = figure.axes[axis_index]
    found = []
    for artist in axis.findobj():
        if getattr(artist, "get_gid", lambda: None)() == "claim-band":
            vertices = artist.get_paths()[0].vertices
            found.append((float(vertices[:, 1].mean()), float(vertices[:, 0].min()), float(vertices[:, 0].max())))
    return sorted(found)


def test_by_unit_draws_each_models_own_band(fleet):
    table = compare_table(load_runs(fleet), "unit")
    figure = claims_figure(table, ["wrap", "unit"], load_runs(fleet).runs.iloc[:0])
    ids = [i for i in ("red_peak_nm", "irradiance_mw_cm2") if i in table]
    bands = _bands_by_row(figure, ids.index("irradiance_mw_cm2"))
    assert len(bands) == len(table)
    for (_, low, high), (_, row) in zip(bands, table.iterrows(), strict=True):  # rows in table order
        claimed = MODELS[row.wrap.removeprefix("Acme ")]
        assert (low, high) == pytest.approx((0.8 * claimed, 1.2 * claimed))


def test_the_page_says_bands_differ_only_where_they_do(fleet, tmp_path):
    loaded = load_runs(fleet)
    page = build_compare_page(compare_table(loaded), tmp_path / "c.html", [], [], loaded.runs.iloc[:0], None, "t")
    text = page.read_text()
    header = text.split("</thead>")[0]
    assert header.count("claims differ") == 1  # irradiance; both models claim 660 nm
    assert "claim 650–670" in header
    body = text.split("</thead>")[1]
    assert body.count("claim 32–48") == 4 and body.count("claim 48–72") == 2  # each run its own band


def test_runs_of_one_day_stand_apart_and_nothing_overlaps(fleet):
    loaded = load_runs(fleet)
    table = compare_table(loaded)
    times = run_times(table)
    assert times.nunique() == len(table)  # not stacked on the day
    figure = claims_figure(table, None, loaded.runs.iloc[:0])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    title = figure._suptitle.get_window_extent(renderer)
    first = figure.axes[0].title.get_window_extent(renderer)
    assert title.y0 >= first.y1  # the page title sits above the first panel's title
    grouped = compare_table(loaded, "unit")
    figure = claims_figure(grouped, ["wrap", "unit"], loaded.runs.iloc[:0])
    renderer = FigureCanvasAgg(figure).get_renderer()
    for label in figure.axes[0].get_yticklabels():
        assert label.get_window_extent(renderer).x0 >= 0, label.get_text()  # wrap names are not clipped


def test_the_page_draws_in_a_headless_browser(fleet, tmp_path):
    """Skipped without chromium (apt-get install chromium)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("no chromium")
    from rig.reporting.compare_command import run_compare

    page = tmp_path / "compare.html"
    run_compare([str(fleet)], by="unit", html=str(page))
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1100,2400",
                    page.as_uri()], check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(shot)
    green = (pixels[..., 1] > pixels[..., 0] + 0.05) & (pixels[..., 1] > pixels[..., 2] + 0.05)
    assert np.mean(green) > 0.001  # the claim bands were drawn by the browser


@pytest.mark.parametrize("width", [80, 120, 200])
def test_by_model_flags_the_unit_unlike_its_siblings(fleet, width):
    from rich.console import Console

    from rig.reporting.compare_models import model_deviations, model_table

    frame = model_deviations(compare_table(load_runs(fleet), "unit"))
    flagged = frame[frame.outlier]
    # s4 gives 22 of its siblings' 39-41 mW/cm2: flagged on irradiance, and nothing else is
    assert list(zip(flagged.unit, flagged.claim_id, strict=True)) == [("s4", "irradiance_mw_cm2")]
    small = frame[(frame.model == "Acme Small") & (frame.claim_id == "irradiance_mw_cm2")]
    assert small.deviation.sum() == pytest.approx(0.0, abs=1e-9)  # deviations from the model's own mean
    console = Console(width=width, record=True, color_system=None)
    console.print(model_table(frame, "t"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= width and "…" not in text
    s4 = next(line for line in text.splitlines() if " s4 " in line and "irradiance" in line)
    assert "⚑ outlier" in s4 and f"{small.unit_mean[small.unit == 's4'].iloc[0]:.4g}" in s4


def test_by_model_on_the_command_line(fleet, tmp_path):
    from conftest import rig_cli

    done = rig_cli(["compare", fleet, "--by", "model", "--csv", tmp_path / "models.csv"])
    assert done.returncode == 0, done.stderr
    assert "outlier" in done.stdout and (tmp_path / "models.csv").read_text().startswith("model,unit,")
