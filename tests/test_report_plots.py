"""The report's plots cannot mislead: claims drawn where they are judged, the safety cut-out named as such,
fitted widths or "width not measured", every PNG stamped with the run and SIMULATED when it is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rig.config import load_bench_config
from rig.profile import Claims, ModeProfile, WrapProfile
from rig.reporting.plot_parts import Stamp
from rig.reporting.plots import spectrum_figure, timeline_figure, verdict_figure
from rig.reporting.report import build_report, read_manifest
from rig.results.banners import run_banners
from rig.run import run_sequence
from rig.sequence import Phase, Sequence
from rig.sim.backend import build_sim_bench
from rig.sim.wrap import LedString, WrapMode, WrapSpec
from rig.spectrum.derive import make_deriver

SEQUENCE = Sequence(name="hot", phases=[
    Phase("dark", 3.0, 1.0), Phase("on"), Phase("warmup", 10.0, 2.0), Phase("measure", 10.0, 1.0),
    Phase("soak", 400.0, 5.0), Phase("off"),
]).validate()


@pytest.fixture(scope="module")
def hot_run(tmp_path_factory) -> Path:
    """A wrap that heats the skin side to about 46 C against the default 43 C claim (cut-out: 48 C)."""
    claims = Claims(red_peak_nm=660.0, irradiance_mw_cm2=40.0)
    profile = WrapProfile(maker="Acme", model="Belt [/]", unit="hot", modes=[ModeProfile("red", 0, claims)])
    spec = WrapSpec(strings=[LedString("red", 660.0, 20.0, 40.0)], modes=[WrapMode("red", ["red"])],
                    droop_fraction=0.0, ambient_c=22.0, surface_rise_c=24.0, heat_tau_s=60.0)
    config = load_bench_config(backend="sim")
    result = run_sequence(profile.validate(), SEQUENCE, lambda: build_sim_bench(config, spec, seed=1),
                          tmp_path_factory.mktemp("results"), derive=make_deriver())
    assert result.outcome == "COMPLETED", result.reason
    return result.run_dir


def load(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    return pd.read_csv(run_dir / "samples.csv"), pd.read_csv(run_dir / "summary.csv"), read_manifest(run_dir)


def artists(figure, gid: str) -> list:
    return [a for a in figure.findobj() if getattr(a, "get_gid", lambda: None)() == gid]


def test_a_wrap_at_46_c_against_a_43_c_claim_shows_the_claim_line_not_only_the_cutout(hot_run):
    samples, summary, manifest = load(hot_run)
    surface = summary[summary.claim == "max surface temperature"].iloc[0]
    assert surface.verdict == "FAIL" and 45.0 < surface.measured < 47.5  # the physics the plot must show
    figure = timeline_figure(samples, summary, 48.0, Stamp.from_manifest(manifest))
    _, bottom = figure.axes[:2]
    limits = [a for a in artists(figure, "claim-limit") if a.axes is bottom]
    assert [float(np.ravel(line.get_segments()[0])[1]) for line in limits] == [43.0]  # at 43 C, not 48
    cutout = artists(figure, "safety-cutout")
    assert len(cutout) == 1 and cutout[0].get_ydata()[0] == 48.0
    labels = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert "claim: at most 43 °C" in labels and any(label.startswith("safety cut-out 48") for label in labels)
    low, high = bottom.get_ylim()
    assert low < surface.measured < high and high > 48.0  # the failing temperature and both lines are in view


def test_the_irradiance_claim_band_is_drawn_over_the_measure_phase(hot_run):
    samples, summary, _ = load(hot_run)
    figure = timeline_figure(samples, summary, 48.0)
    top = figure.axes[0]
    band = [a for a in artists(figure, "claim-band") if a.axes is top]
    assert len(band) == 1
    corners = band[0].get_paths()[0].vertices
    measure = samples[samples.phase_kind == "measure"].t_s
    assert corners[:, 1].min() == pytest.approx(32.0) and corners[:, 1].max() == pytest.approx(48.0)  # 40 ± 20 %
    assert corners[:, 0].min() == pytest.approx(measure.min()) and corners[:, 0].max() >= measure.max()


def test_an_at_most_claim_has_no_invented_lower_edge(hot_run):
    _, summary, _ = load(hot_run)
    figure = verdict_figure(summary, uncalibrated=True)
    row = list(summary.claim).index("max surface temperature")
    axis = figure.axes[row]
    limits = [a for a in artists(figure, "claim-limit") if a.axes is axis]
    assert [line.get_xdata()[0] for line in limits] == [43.0]  # only the claimed limit is a line
    band = [a for a in artists(figure, "claim-band") if a.axes is axis][0]
    left = band.get_x() if hasattr(band, "get_x") else band.get_paths()[0].vertices[:, 0].min()
    assert left < axis.get_xlim()[0]  # runs off the left edge: open, no lower limit
    # uncalibrated: the irradiance verdict carries a * and the figure says why
    verdicts = [t.get_text() for t in artists(figure, "verdict")]
    assert verdicts[list(summary.claim).index("irradiance at contact")].endswith("*")
    assert artists(figure, "uncalibrated-note")


def test_fitted_lines_are_drawn_at_their_fitted_width_or_say_width_not_measured(hot_run):
    samples, _, _ = load(hot_run)
    assert "red_fwhm_nm" not in samples  # today's estimate reports no width
    figure = spectrum_figure(samples)
    label = artists(figure, "red-label")[0].get_text()
    assert "width not measured" in label and not artists(figure, "model") and not artists(figure, "red-shape")
    samples = samples.assign(red_fwhm_nm=25.0)  # an estimate that reports a width
    figure = spectrum_figure(samples)
    x, y = artists(figure, "red-shape")[0].get_data()
    above_half = x[y >= y.max() / 2]
    assert above_half.max() - above_half.min() == pytest.approx(25.0, abs=1.5)  # its FWHM, not 20 or 30 nm
    assert "FWHM 25 nm" in artists(figure, "red-label")[0].get_text() and artists(figure, "model")


def test_every_png_is_stamped_with_the_run_and_simulated(hot_run, tmp_path):
    samples, summary, manifest = load(hot_run)
    info = Stamp.from_manifest(manifest)
    for figure in (spectrum_figure(samples, info), timeline_figure(samples, summary, 48.0, info),
                   verdict_figure(summary, True, info)):
        text = artists(figure, "stamp")[0].get_text()
        assert manifest.run_id in text and "Belt [/]" in text and "SIMULATED" in text
        assert "UNCALIBRATED" in text
        assert artists(figure, "simulated")[0].get_color() == "#c62828"
    real = Stamp.from_manifest(manifest.with_changes(backend="real"))
    figure = spectrum_figure(samples, real)
    assert "real bench" in artists(figure, "stamp")[0].get_text() and not artists(figure, "simulated")


def test_banners_say_what_a_reader_must_know_first(hot_run, tmp_path):
    manifest = read_manifest(hot_run)
    kinds = [b.kind for b in run_banners(manifest)]
    assert kinds == ["simulated", "uncalibrated"]  # finished, simulated, no calibration file
    calibrated_real = manifest.with_changes(backend="real", calibration={"id": "bench1", "calibrated": True,
                                                                          "warnings": []})
    assert run_banners(calibrated_real) == []
    old = calibrated_real.with_changes(calibration={"id": "bench1", "calibrated": True, "warnings": [
        "calibration 'bench1' is 200 days old (limit 180): recalibrate"]})
    assert [b.kind for b in run_banners(old)] == ["calibration_old"]
    aborted = calibrated_real.with_changes(outcome="ABORTED", reason="over-temperature")
    banner = run_banners(aborted)[0]
    assert banner.kind == "incomplete" and "over-temperature" in banner.detail
    # and the report of an aborted run opens with it
    (hot_run / "run.json").write_text(json.dumps(aborted.to_json()))
    try:
        text = build_report(hot_run, None, tmp_path / "report").read_text()
    finally:
        (hot_run / "run.json").write_text(json.dumps(manifest.to_json()))
    assert text.index("DID NOT FINISH") < text.index("<h2>Verdicts</h2>")


def test_the_spectrum_marks_each_claimed_line_in_physical_units(hot_run):
    samples, summary, _ = load(hot_run)
    figure = spectrum_figure(samples, None, summary)
    bands = artists(figure, "claimed-line")
    assert len(bands) == 1  # the profile claims one red line: 660 ± 10 nm
    band = bands[0]  # a Rectangle (matplotlib >= 3.9) or a Polygon
    x = (band.get_x(), band.get_x() + band.get_width()) if hasattr(band, "get_x") else (
        band.get_xy()[:, 0].min(), band.get_xy()[:, 0].max())
    assert x == pytest.approx((650.0, 670.0))
    physical = [a for a in figure.axes if "mW/cm²" in a.get_ylabel()]
    assert physical and "counts" not in " ".join(a.get_ylabel() for a in figure.axes)
    # the fitted red line stands at its measured irradiance (mean over the measure phase), in those units
    measure = samples[(samples.phase_kind == "measure") & (samples.wrap_on == 1)]
    stem = artists(figure, "red-peak")[0]
    top = max(y for segment in stem.get_segments() for _, y in segment)
    assert top == pytest.approx(measure.red_irradiance_mw_cm2.mean(), rel=0.02)


def test_the_timeline_keeps_bands_apart_and_the_curves_uncovered(hot_run):
    from rig.reporting.plots import PHASE_COLOURS, PHASE_STRIP

    samples, summary, _ = load(hot_run)
    figure = timeline_figure(samples, summary, 48.0)
    for patch in artists(figure, "phase"):  # phases: a strip along the top, not a shade behind the curves
        low = patch.get_y() if hasattr(patch, "get_y") else patch.get_xy()[:, 1].min()
        assert low >= PHASE_STRIP[0] - 1e-9
    band_colours = {tuple(np.round(a.get_facecolor()[0][:3], 2)) for a in artists(figure, "claim-band")}
    import matplotlib.colors

    assert tuple(np.round(matplotlib.colors.to_rgb(PHASE_COLOURS["measure"]), 2)) not in band_colours
    assert artists(figure, "claim-band")[0].get_hatch()  # the claim band is hatched, the ± U band is not
    assert not artists(figure, "uncertainty-band")[0].get_hatch()
    for axis in figure.axes[:2]:  # legends beside the panels, not over the curves
        legend = axis.get_legend()
        assert legend is not None and legend.get_bbox_to_anchor().x0 >= axis.get_window_extent().x1 - 1


def test_the_report_answers_first_and_tables_read(hot_run, tmp_path):
    from rig.reporting.report_text import BEHAVIOUR_LABELS

    text = build_report(hot_run, None, tmp_path / "report").read_text()
    _, summary, manifest = load(hot_run)
    overall = text.index('id=overall')
    assert overall < text.index("SIMULATED") and overall < text.index("<h2>Verdicts</h2>")
    worst = "FAIL" if "FAIL" in set(summary.verdict) else "MARGINAL" if "MARGINAL" in set(summary.verdict) else "PASS"
    assert f">{worst}</span>" in text
    head = text[:text.index("<h2>Verdicts</h2>")]
    for claim in summary.claim:
        assert claim in head  # one line per claim before anything else
    behaviour = text[text.index("<h2>Measured behaviour</h2>"):text.index("<h2>The run</h2>")]
    assert "<table class=facts>" in behaviour and BEHAVIOUR_LABELS["surface_max_c"][0] in behaviour
    assert "surface_max_c" not in behaviour  # labels, not raw column names
    assert '"run_id"' not in text  # no JSON dump of the run's facts


def test_a_peaks_error_bar_spans_its_stated_interval(hot_run):
    # a reading whose stated interval is skewed (2 nm below the peak, 5 nm above, as near F8's top): the plot's
    # horizontal error bar must span exactly that, and the label say so, not a symmetric +/- the longer side
    samples, _, _ = load(hot_run)
    samples = samples.assign(red_peak_low_nm=samples.red_peak_nm - 2.0, red_peak_high_nm=samples.red_peak_nm + 5.0,
                             red_peak_u_nm=5.0)
    figure = spectrum_figure(samples)
    estimate = artists(figure, "red-estimate")[0]
    peak = float(estimate.get_xdata()[0])
    spans = [segment[:, 0] for collection in estimate.axes.collections
             for segment in getattr(collection, "get_segments", list)()
             if len(segment) == 2 and segment[0, 1] == segment[1, 1] and segment[0, 0] != segment[1, 0]]
    assert any(np.allclose(sorted(span), [peak - 2.0, peak + 5.0]) for span in spans), spans
    assert "−2.0 +5.0" in artists(figure, "red-label")[0].get_text()
