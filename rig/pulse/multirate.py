"""Pulse and PWM at any frequency: short-aperture bursts at co-prime rates, combined with the ~2 kHz trace.

Method (numpy only, runs on the Pi):

1. **Frequency above ~250 Hz**: every aperture's bursts give an averaged power
   spectrum (mean of |FFT|^2 of each 128-sample burst). A true frequency ``f``
   appears in the set sampled at rate ``R`` at its alias ``|f - k R|``. A
   candidate ``f`` is accepted when its alias is strong in *every* set that can
   see it (window long enough for 2.5 periods, aperture short enough not to
   average it away, alias clear of DC), and at least two sets see it; the lowest
   accepted candidate is the fundamental. Co-prime rates make a wrong candidate
   agree with all sets only by coincidence. If the ~2 kHz trace shows the
   predicted alias, it sharpens the frequency (its record is 1000 x longer).
2. **Frequency below ~250 Hz**: the trace (its rate is far above twice it).
3. **Neither**, but the short-aperture samples are clearly modulated: the
   frequency is beyond what the capture resolves and is reported as a bound
   (``> 1 kHz``: the 2 kHz boxcar trace averaged it away), never as an alias.
4. **Percent flicker and duty** come from samples whose aperture is short
   against the period (at most 1/8 of it; the trace for f <= 100 Hz): the
   bursts are folded at the resolved frequency (each burst aligned on its
   fundamental's phase) into a mean waveform, whose max/min give percent
   flicker and whose mean gives the duty, ``(mean - low) / (high - low)``
   (exact for on/off pulses whatever the aperture smoothing, since smoothing
   keeps the mean). Without a frequency, the pooled samples' noise-corrected
   extremes give percent flicker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rig.hardware.flicker import Burst, FlickerTrace
from rig.pulse import ieee1789
from rig.pulse.limit import COVER_MAX_HZ, SampleSet, seen_up_to_hz
from rig.pulse.trace import PULSED_MODULATION_PCT, RIPPLE_MIN_PCT, PulseResult, analyze_trace

ACCEPT_POWER = 0.2  # a candidate's alias must carry at least this share of each set's strongest line
MIN_SNR = 10.0  # ... and this many times the set's noise floor (median power; noise alone: chi2, 16 dof)
TRACE_TRUSTED_HZ = 800.0  # below this the trace's tone is taken if the trace is not attenuated (see below)
MIN_PERIODS_IN_WINDOW = 2.5
MIN_APERTURE_RESPONSE = 0.3  # |sinc(f x aperture)|: below this a set cannot see f
FOLD_APERTURE_FRACTION = 0.125  # percent flicker and duty from samples no longer than 1/8 of the period
BOUND_HZ = 1000.0  # modulation seen only by short apertures: faster than the trace's Nyquist (~1 kHz)
F_MAX_HZ = 60_000.0


@dataclass(frozen=True)
class ApertureSet:
    """All bursts of one aperture, dark-subtracted."""

    aperture_s: float
    rate_hz: float
    bursts: tuple[np.ndarray, ...]

    @property
    def window_s(self) -> float:
        return min(len(b) for b in self.bursts) * self.aperture_s

    @property
    def pooled(self) -> np.ndarray:
        return np.concatenate(self.bursts)


def group_bursts(bursts: Sequence[Burst], dark_counts: float = 0.0) -> list[ApertureSet]:
    """Bursts grouped by aperture (shortest first); bursts shorter than 32 samples are dropped."""
    by_steps: dict[int, list[np.ndarray]] = {}
    aperture_s: dict[int, float] = {}  # each burst's own sample period (its chip's step x FD_TIME + 1)
    for burst in bursts:
        if len(burst.samples) >= 32:
            by_steps.setdefault(burst.steps, []).append(np.asarray(burst.samples, float) - dark_counts)
            aperture_s.setdefault(burst.steps, burst.period_s)
    return [ApertureSet(aperture_s[steps], 1.0 / aperture_s[steps], tuple(group))
            for steps, group in sorted(by_steps.items())]


def _alias(frequency_hz: np.ndarray | float, rate_hz: float) -> np.ndarray:
    f = np.asarray(frequency_hz, float)
    return np.abs((f + rate_hz / 2) % rate_hz - rate_hz / 2)


def _spectrum(aperture_set: ApertureSet) -> tuple[np.ndarray, np.ndarray]:
    """Mean power spectrum of the bursts (Hann window, 8x zero padding), normalised to its noise floor."""
    n = min(len(b) for b in aperture_set.bursts)
    padded = 8 * 2 ** int(math.ceil(math.log2(n)))
    window = np.hanning(n)
    power = np.zeros(padded // 2 + 1)
    for burst in aperture_set.bursts:
        x = burst[:n]
        power += np.abs(np.fft.rfft((x - x.mean()) * window, padded)) ** 2
    freqs = np.fft.rfftfreq(padded, 1.0 / aperture_set.rate_hz)
    power[freqs < 2.0 / aperture_set.window_s] = 0.0  # the window's main lobe around DC: slow drifts
    floor = float(np.median(power[power > 0])) if (power > 0).any() else 1.0
    return freqs, power / max(floor, 1e-12)


def _sees(aperture_set: ApertureSet, f: np.ndarray) -> np.ndarray:
    alias = _alias(f, aperture_set.rate_hz)
    return ((f * aperture_set.window_s >= MIN_PERIODS_IN_WINDOW)
            & (np.abs(np.sinc(f * aperture_set.aperture_s)) >= MIN_APERTURE_RESPONSE)
            & (alias >= 2.5 / aperture_set.window_s))


def resolve_frequency(sets: Sequence[ApertureSet], f_min_hz: float = 150.0,
                      f_max_hz: float = F_MAX_HZ) -> tuple[float, float] | None:
    """The fundamental seen consistently by every aperture set that can see it, with its expanded u; or None."""
    spectra = [_spectrum(s) for s in sets]
    grid = np.exp(np.arange(math.log(f_min_hz), math.log(f_max_hz), 2e-4))
    score = np.full(grid.shape, np.inf)
    voters = np.zeros(grid.shape, int)
    log_sum = np.zeros(grid.shape)
    for aperture_set, (freqs, power) in zip(sets, spectra, strict=True):
        if power.max() < MIN_SNR:  # no line above this set's noise (too few counts): it can neither vote nor veto
            continue
        sees = _sees(aperture_set, grid)
        snr = np.interp(_alias(grid, aperture_set.rate_hz), freqs, power)
        value = np.where(snr >= MIN_SNR, snr / power.max(), 0.0)
        score = np.where(sees, np.minimum(score, value), score)
        log_sum = np.where(sees, log_sum + np.log(value + 1e-9), log_sum)
        voters += sees
    accept = (voters >= 2) & (score >= ACCEPT_POWER)
    if not accept.any():
        return None
    first = int(np.argmax(accept))
    run_end = first
    while run_end + 1 < len(grid) and accept[run_end + 1]:
        run_end += 1
    frequency = float(grid[first + int(np.argmax(score[first:run_end + 1]))])

    def score_at(f: float) -> float:
        values = [np.interp(float(_alias(f, st.rate_hz)), fr, pw) / pw.max()
                  for st, (fr, pw) in zip(sets, spectra, strict=True)
                  if pw.max() >= MIN_SNR and _sees(st, np.array([f]))[0]]
        return min(values) if len(values) >= 2 else 0.0

    # sharpen on the longest-window set that sees it: its alias peak, interpolated, mapped back; of the
    # frequencies that alias there, the one all sets agree with best
    seeing = sorted((s for s, (_, pw) in zip(sets, spectra, strict=True)
                     if pw.max() >= MIN_SNR and _sees(s, np.array([frequency]))[0]), key=lambda s: -s.window_s)
    if not seeing:
        return frequency, 0.02 * frequency
    fine = seeing[0]
    freqs, power = spectra[list(sets).index(fine)]
    bin_hz = fine.rate_hz / min(len(b) for b in fine.bursts)
    coarse_hz = max(st.rate_hz / min(len(b) for b in st.bursts) for st in seeing)
    alias = float(_alias(frequency, fine.rate_hz))
    near = np.flatnonzero(np.abs(freqs - alias) <= 1.5 * bin_hz)
    k = int(near[np.argmax(power[near])])
    if 0 < k < len(power) - 1:
        a, b, c = np.log(power[k - 1:k + 2] + 1e-12)
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        peak = float(freqs[k] + shift * (freqs[1] - freqs[0]))
        cycles = round(frequency / fine.rate_hz)
        options = [m * fine.rate_hz + sign * peak for m in (cycles - 1, cycles, cycles + 1) for sign in (1, -1)]
        options = [f for f in options if f > 0 and abs(f - frequency) <= 2.0 * coarse_hz]
        if options:
            frequency = max(options, key=score_at)
    return frequency, max(0.2 * bin_hz, 0.002 * frequency)


def _refine_with_trace(frequency: float, frequency_u: float, trace: FlickerTrace,
                       dark_counts: float) -> tuple[float, float] | None:
    """Sharpen a burst frequency with the trace's alias of it, if the trace shows that alias."""
    x = np.asarray(trace.samples, float) - dark_counts
    n = len(x)
    if n < 64:
        return None
    rate = trace.rate_hz
    predicted = float(_alias(frequency, rate))
    if abs(np.sinc(frequency / rate)) < 0.05 or predicted < 3.0 * rate / n or predicted > rate / 2 - 3.0 * rate / n:
        return None
    padded = 4 * 2 ** int(math.ceil(math.log2(n)))
    power = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(n), padded)) ** 2
    freqs = np.fft.rfftfreq(padded, 1.0 / rate)
    near = np.flatnonzero(np.abs(freqs - predicted) <= frequency_u + 2.0 * rate / n)
    if len(near) < 3:
        return None
    k = int(near[np.argmax(power[near])])
    floor = float(np.median(power[1:])) + 1e-12
    if power[k] < 30.0 * floor or k in (near[0], near[-1]) or not 0 < k < len(power) - 1:
        return None
    a, b, c = np.log(power[k - 1:k + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    alias = float(freqs[k] + shift * (freqs[1] - freqs[0]))
    cycles = round(frequency / rate)
    candidates = [cycles * rate + alias, cycles * rate - alias]
    refined = min(candidates, key=lambda f: abs(f - frequency))
    if abs(refined - frequency) > frequency_u:
        return None
    return refined, max(0.2 / (n / rate), 2e-5 * refined)


def _noise_counts(level: float, read_noise: float = 1.0) -> float:
    return math.sqrt(max(level, 0.0) + read_noise ** 2)


def _white_noise_var(aperture_set: ApertureSet, max_lag: int = 48) -> float:
    """The samples' noise variance from the data: half the mean squared difference at the lag where it is
    smallest (a lag near a whole number of periods cancels the waveform; noise never cancels)."""
    n = min(len(b) for b in aperture_set.bursts)
    stack = np.stack([b[:n] for b in aperture_set.bursts])
    lags = range(1, min(max_lag, n // 2) + 1)
    return min(float(np.mean((stack[:, lag:] - stack[:, :-lag]) ** 2)) / 2.0 for lag in lags)


def pooled_modulation(x: np.ndarray, diff_var: float | None = None) -> tuple[float, float, float]:
    """Percent flicker of pooled samples (no frequency needed): noise-corrected 0.5/99.5 percentiles, its
    expanded u, and a sure lower limit (from the excess variance, or the estimate minus u)."""
    high, low = float(np.percentile(x, 99.5)), float(np.percentile(x, 0.5))
    mean = max(float(x.mean()), 1e-9)
    noise = _noise_counts(max(mean, 1.0))
    peak_to_peak = math.sqrt(max(0.0, (high - low) ** 2 - (5.15 * noise) ** 2))
    total = max(high + max(low, 0.0), 1e-9)
    modulation = min(100.0, 100.0 * peak_to_peak / total)
    # any waveform of mean m and standard deviation s has percent flicker >= 100 s / (m + s): s from the
    # variance in excess of the noise's (a sensitive test that needs no frequency)
    white = float(np.mean(np.diff(x) ** 2)) / 2.0 if diff_var is None else diff_var  # noise, from the data
    excess = float(np.var(x)) - white
    s_wave = math.sqrt(max(0.0, excess - 5.0 * white * math.sqrt(2.0 / len(x))))
    bound = 100.0 * s_wave / (mean + s_wave)
    # the noise correction may hide up to its own size of true peak-to-peak: that is the uncertainty
    u = 100.0 * 5.15 * noise / total + 0.02 * modulation
    sure = max(bound, modulation - u, 0.0)
    if bound > modulation:
        return bound, max(u, 100.0 - bound), sure  # only a lower bound is sure: the range above it is u
    return modulation, u, sure


@dataclass(frozen=True)
class Folded:
    """A mean waveform over one period (bins of phase) from an aperture set."""

    levels: np.ndarray  # mean counts per occupied bin
    u_levels: np.ndarray  # standard uncertainty of each bin mean
    mean: float
    u_mean: float


def fold(aperture_set: ApertureSet, frequency_hz: float, bins: int | None = None) -> Folded:
    """Fold every burst at ``frequency_hz``, each aligned on its fundamental's phase, into phase bins."""
    period = 1.0 / frequency_hz
    bins = bins or int(min(32, max(8, round(period / aperture_set.aperture_s))))
    sums, counts = np.zeros(bins), np.zeros(bins)
    for x in aperture_set.bursts:
        t = np.arange(len(x)) * aperture_set.aperture_s
        z = np.sum((x - x.mean()) * np.exp(-2j * np.pi * frequency_hz * t))
        phase = (frequency_hz * t + np.angle(z) / (2 * np.pi)) % 1.0
        index = np.minimum((phase * bins).astype(int), bins - 1)
        sums += np.bincount(index, x, bins)
        counts += np.bincount(index, minlength=bins)
    occupied = counts > 0
    levels = sums[occupied] / counts[occupied]
    u_levels = np.array([_noise_counts(v) for v in levels]) / np.sqrt(counts[occupied])
    pooled = aperture_set.pooled
    return Folded(levels, u_levels, float(pooled.mean()), _noise_counts(float(pooled.mean())) / math.sqrt(len(pooled)))


def folded_modulation_and_duty(folded: Folded, aperture_fraction: float) -> tuple[float, float, float, float]:
    """Percent flicker and duty (with expanded u) from a folded waveform.

    ``aperture_fraction`` (aperture / period) bounds how much the aperture and the bins round the plateaus off.
    """
    hi_i, lo_i = int(np.argmax(folded.levels)), int(np.argmin(folded.levels))
    hi, lo = float(folded.levels[hi_i]), max(float(folded.levels[lo_i]), 0.0)
    u_hi, u_lo = float(folded.u_levels[hi_i]), float(folded.u_levels[lo_i])
    # the max of noisy bins is biased up by about one sigma (the min down): correct and keep it in u
    spread = float(np.median(folded.u_levels))
    hi, lo = hi - spread, max(lo + spread if lo > 0 else lo, 0.0)
    total = max(hi + lo, 1e-9)
    modulation = min(100.0, max(0.0, 100.0 * (hi - lo) / total))
    u_mod = 2 * 100.0 * math.hypot(2 * lo * math.hypot(u_hi, spread), 2 * hi * math.hypot(u_lo, spread)) / total ** 2
    amplitude = max(hi - lo, 1e-9)
    duty = 100.0 * min(1.0, max(0.0, (folded.mean - lo) / amplitude))
    # rounded-off plateaus read shallower: the aperture and the bin width smear the shorter plateau (a 10 % gap
    # of a 90 % duty PWM); once they are as wide as it, its true depth may be anything up to full
    smear = aperture_fraction + 1.0 / len(folded.levels)
    plateau = max(min(duty, 100.0 - duty) / 100.0, 1e-3)
    u_mod += (100.0 - modulation) * min(1.0, max(0.5 * aperture_fraction, smear / plateau))
    u_duty = 2 * 100.0 * math.hypot(folded.u_mean, math.hypot(u_hi, spread) * duty / 100.0,
                                    math.hypot(u_lo, spread) * (1 - duty / 100.0)) / amplitude
    u_duty += 100.0 * aperture_fraction * 0.5 + 0.5
    return modulation, u_mod, duty, u_duty


def analyze_capture(trace: FlickerTrace | None, bursts: Sequence[Burst], dark_counts: float = 0.0) -> PulseResult:
    """Frequency (alias-resolved, or a bound), percent flicker, duty and IEEE 1789 region from both captures."""
    low = analyze_trace(trace.samples, trace.rate_hz, dark_counts) if trace is not None else None
    sets = group_bursts(bursts, dark_counts)
    if not sets:
        if low is None:
            raise ValueError("a pulse analysis needs a trace or bursts")
        return _with_region(replace(low, aperture_us=1e6 / trace.rate_hz, method="trace"))
    shortest = sets[0]
    pooled = [pooled_modulation(s.pooled, _white_noise_var(s)) for s in sets]
    sure_mod = max(p[2] for p in pooled)  # evidence of modulation at short apertures
    found, method = resolve_frequency(sets), "bursts"
    if low is not None and low.frequency_hz is not None and low.frequency_hz < TRACE_TRUSTED_HZ:
        # the trace's tone stands unless the bursts resolve a faster tone whose alias it is
        f_c, u_c = low.frequency_hz, low.frequency_u_hz or 0.0
        aliased = found is not None and found[0] > trace.rate_hz / 2 and abs(
            float(_alias(found[0], trace.rate_hz)) - f_c) <= 3.0 * (found[1] + u_c) + 2.0
        if not aliased:
            found, method = (f_c, u_c), "trace"
    if found is not None and method == "bursts" and trace is not None:
        sharper = _refine_with_trace(*found, trace, dark_counts)
        if sharper is not None:
            found, method = sharper, "bursts+trace"
    if found is None and low is not None and low.frequency_hz is not None:
        # a low frequency from the trace, unless the short apertures see far more modulation than the
        # boxcar trace does: then the trace's tone is an alias of something faster
        if not sure_mod > 2.0 * (low.modulation_pct + low.modulation_u_pct) + 10.0:
            found, method = (low.frequency_hz, low.frequency_u_hz or 0.0), "trace"
    if found is None:
        steady_mod, steady_u = (low.modulation_pct, low.modulation_u_pct) if low is not None else pooled[0][:2]
        if sure_mod > max(RIPPLE_MIN_PCT, steady_mod + steady_u):
            m, u, _ = max(pooled, key=lambda p: p[2])
            result = PulseResult(m, u, m >= PULSED_MODULATION_PCT, frequency_min_hz=BOUND_HZ,
                                 aperture_us=shortest.aperture_s * 1e6, method="bound")
        else:
            aperture = 1e6 / trace.rate_hz if trace is not None else shortest.aperture_s * 1e6
            seen = seen_up_to_hz(_sample_sets(sets, trace, dark_counts))
            if seen < COVER_MAX_HZ:  # too little light to exclude fast full-depth PWM: not "steady"
                result = PulseResult(steady_mod, max(steady_u, 100.0 - steady_mod), False, aperture_us=aperture,
                                     method="limit", seen_up_to_hz=seen)
            else:
                result = PulseResult(steady_mod, steady_u, False, aperture_us=aperture, method="none",
                                     seen_up_to_hz=seen)
        return _with_region(result)
    frequency, frequency_u = found
    if method == "trace" and low is not None and frequency / trace.rate_hz <= FOLD_APERTURE_FRACTION / 1.25:
        # percent flicker from the trace folded at its frequency (bin means: the noise averages out)
        x = np.asarray(trace.samples, float) - dark_counts
        whole = ApertureSet(1.0 / trace.rate_hz, trace.rate_hz, (x,))
        modulation, modulation_u, _, _ = folded_modulation_and_duty(fold(whole, frequency),
                                                                     frequency / trace.rate_hz)
        pulsed = modulation >= PULSED_MODULATION_PCT
        return _with_region(replace(low, modulation_pct=modulation, modulation_u_pct=modulation_u, pulsed=pulsed,
                                    frequency_hz=frequency, frequency_u_hz=frequency_u,
                                    duty_pct=low.duty_pct if pulsed else None,
                                    duty_u_pct=low.duty_u_pct if pulsed else None,
                                    aperture_us=1e6 / trace.rate_hz, method=method))
    eligible = [s for s in sets if s.aperture_s * frequency <= FOLD_APERTURE_FRACTION] or [shortest]
    best = None
    for aperture_set in eligible:
        fraction = aperture_set.aperture_s * frequency
        if method == "trace" and aperture_set.window_s * frequency < 1.0:
            continue  # a burst shorter than a period cannot be folded
        values = folded_modulation_and_duty(fold(aperture_set, frequency), fraction)
        if best is None or values[1] < best[1][1]:
            best = (aperture_set, values)
    if best is None:  # a slow tone the bursts cannot fold and the trace's aperture is too long for
        aperture_set, values = shortest, (*pooled[0][:2], None, None)
    else:
        aperture_set, values = best
    modulation, modulation_u, duty, duty_u = values
    pulsed = modulation >= PULSED_MODULATION_PCT
    return _with_region(PulseResult(modulation, modulation_u, pulsed, frequency, frequency_u,
                                    duty if pulsed else None, duty_u if pulsed else None,
                                    aperture_us=aperture_set.aperture_s * 1e6, method=method))


def _sample_sets(sets: Sequence[ApertureSet], trace: FlickerTrace | None, dark_counts: float) -> list[SampleSet]:
    """Every aperture set, and the trace, as what they could see (:mod:`rig.pulse.limit`)."""
    out = [SampleSet(s.aperture_s, s.window_s, float(s.pooled.mean()), _white_noise_var(s), len(s.pooled))
           for s in sets]
    if trace is not None and len(trace.samples) >= 64:
        x = np.asarray(trace.samples, float) - dark_counts
        whole = ApertureSet(1.0 / trace.rate_hz, trace.rate_hz, (x,))
        out.append(SampleSet(whole.aperture_s, whole.window_s, float(x.mean()), _white_noise_var(whole), len(x)))
    return out


def _with_region(result: PulseResult) -> PulseResult:
    steady = result.frequency_hz is None and result.frequency_min_hz is None and result.method != "limit" and (
        result.modulation_pct <= max(RIPPLE_MIN_PCT, result.modulation_u_pct))
    if result.frequency_hz is None and result.frequency_min_hz is not None:
        # only bounds known: the worst corner (most modulation, lowest frequency) is the conservative region
        worst = min(100.0, result.modulation_pct + result.modulation_u_pct)
        return replace(result, flicker_region=ieee1789.region(worst, result.frequency_min_hz))
    return replace(result, flicker_region=ieee1789.region(result.modulation_pct, result.frequency_hz, steady))
