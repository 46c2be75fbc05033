"""Bounded non-linear least squares for many small problems at once (Levenberg-Marquardt in numpy).

Each row is its own problem: minimise ``sum(((model(theta) - y) * sw) ** 2)`` within ``lower <= theta <=
upper``, from a start inside the bounds (the grid stage's best point). The damping is scaled by the
Jacobian's column norms (Marquardt; as ``x_scale="jac"`` in scipy) and follows how well the linear model
predicted each step (Nielsen's update). A parameter at a bound whose gradient points out of the box is held
there for that step (an active set), and a step that would leave the box is clipped to it (not reflected),
so a width can sit at its limit while the rest converges. All rows
step together, so one numpy call serves them all; a row leaves the loop when its cost stops improving
(relative ``FTOL``) or its step vanishes.

A row that ends with a parameter the model cannot see (a Jacobian column of zeros: a line's irradiance at 0
hides its peak and width) is solved again by scipy's trust-region reflective method from its start; it is
rare (claimed lines the sensor cannot separate) and that method can move such a parameter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FTOL = 1e-10  # relative drop of the cost below which a row has converged
XTOL = 1e-10  # relative step below which a row has converged
MAX_ITERATIONS = 200
SHRINK_MIN = 0.1  # the most the damping drops after a step the linear model predicted well
LAMBDA_START, LAMBDA_MIN, LAMBDA_MAX = 1.0, 1e-12, 1e12

# (theta rows x P, the rows they belong to) -> (model rows x n, d model / d theta rows x n x P)
ModelAndJacobian = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def refine(theta: np.ndarray, lower: np.ndarray, upper: np.ndarray, model_and_jacobian: ModelAndJacobian,
           y: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """The best ``theta`` (rows x P) per row; ``y`` (rows x n) the data, ``sw`` (rows x n) sqrt(weights)."""
    start = np.minimum(np.maximum(np.asarray(theta, float), lower), upper)
    theta = start.copy()
    rows, size = len(theta), theta.shape[1]
    model, jac = model_and_jacobian(theta, np.arange(rows))
    residual = (model - y) * sw
    weighted_jac = jac * sw[:, :, None]
    cost = (residual * residual).sum(axis=1)
    damping = np.full(rows, LAMBDA_START)
    growth = np.full(rows, 2.0)
    scale = np.zeros_like(theta)
    diagonal_index = np.arange(size)
    active = np.flatnonzero(np.isfinite(cost))
    for _ in range(MAX_ITERATIONS):
        if not len(active):
            break
        j, r, t = weighted_jac[active], residual[active], theta[active]
        j_t = j.transpose(0, 2, 1)
        gradient = (j_t @ r[:, :, None])[:, :, 0]
        normal = j_t @ j
        scale_now = np.maximum(scale[active], normal[:, diagonal_index, diagonal_index])
        scale[active] = scale_now
        free = ~(((t <= lower) & (gradient > 0)) | ((t >= upper) & (gradient < 0)))  # held at a bound: not free
        floor = 1e-12 * scale_now.max(axis=1, keepdims=True) + 1e-300
        system = normal * (free[:, :, None] & free[:, None, :])
        damped = damping[active, None] * np.maximum(scale_now, floor)
        system[:, diagonal_index, diagonal_index] += np.where(free, damped, 1.0)
        step = _solve(system, -gradient * free)
        trial = np.minimum(np.maximum(t + step, lower), upper)
        trial_model, trial_jac = model_and_jacobian(trial, active)
        trial_residual = (trial_model - y[active]) * sw[active]
        trial_cost = (trial_residual * trial_residual).sum(axis=1)
        cost_now = cost[active]
        better = np.isfinite(trial_cost) & (trial_cost < cost_now)
        moved = trial - t
        predicted = -(2 * (moved * gradient).sum(axis=1) + (moved[:, None, :] @ normal @ moved[:, :, None])[:, 0, 0])
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(predicted > 0, (cost_now - trial_cost) / predicted, 0.0)
        tiny_step = (np.abs(moved) <= XTOL * (np.abs(t) + XTOL)).all(axis=1)
        converged = (better & (cost_now - trial_cost <= FTOL * cost_now)) | tiny_step | (damping[active] >= LAMBDA_MAX)
        took = active[better]
        theta[took] = trial[better]
        residual[took] = trial_residual[better]
        weighted_jac[took] = trial_jac[better] * sw[took][:, :, None]
        cost[took] = trial_cost[better]
        # Nielsen's update: damping follows how well the linear model predicted the drop; doubling on failures
        shrink = np.maximum(SHRINK_MIN, 1 - (2 * np.minimum(np.maximum(gain, 0.0), 1.0) - 1) ** 3)
        damping[active] = np.where(better, np.maximum(damping[active] * shrink, LAMBDA_MIN),
                                   damping[active] * growth[active])
        growth[active] = np.where(better, 2.0, growth[active] * 2)
        active = active[~converged]
    blind = np.flatnonzero(np.any(np.all(weighted_jac == 0, axis=1), axis=1))
    for row in blind:
        theta[row] = _trust_region(start[row], lower, upper, model_and_jacobian, y[row], sw[row], row)
    return theta


def _trust_region(theta: np.ndarray, lower: np.ndarray, upper: np.ndarray, model_and_jacobian: ModelAndJacobian,
                  y: np.ndarray, sw: np.ndarray, row: int) -> np.ndarray:
    """One row by scipy's trust-region reflective solver, which reflects off the bounds and so can move a
    parameter that has no effect at the box's edge (a line's peak when its irradiance sits at 0)."""
    from scipy.optimize import least_squares  # lazy: rare, and scipy is ~0.3 s to import on a Pi

    at = np.array([row])
    last: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def evaluate(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = t.tobytes()
        if key not in last:
            last.clear()
            model, jac = model_and_jacobian(t[None, :], at)
            last[key] = (model[0] - y) * sw, jac[0] * sw[:, None]
        return last[key]

    return least_squares(lambda t: evaluate(t)[0], theta, jac=lambda t: evaluate(t)[1], bounds=(lower, upper),
                         method="trf", x_scale="jac").x


def _solve(system: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Solve each row's small system; a singular one by its pseudo-inverse."""
    try:
        return np.linalg.solve(system, right[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return np.einsum("rpq,rq->rp", np.linalg.pinv(system), right)
