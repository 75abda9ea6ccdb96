"""BTYD models: published figures, recovery from their own generative process, properties, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import hyp2f1

from dropout.model.btyd import (
    BetaGeoNBD,
    BTYDInputError,
    ModifiedBetaGeoNBD,
    NotFittedError,
    ShiftedBetaGeometric,
)

# CDNOW estimates of Fader, Hardie & Lee (2005), used as the "true" world below.
CDNOW = dict(r=0.24, alpha=4.4, a=0.79, b=2.43)
FAMILY = [(BetaGeoNBD, 0), (ModifiedBetaGeoNBD, 1)]  # (class, coin flip at time 0)


def simulate(r, alpha, a, b, *, T, horizon, flip_at_start, rng):
    """Draw (x, t_x, T) and the count in (T, T+horizon] from the (M)BG/NBD story itself.

    lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); the customer dies at the K-th coin flip,
    K ~ Geometric(p), flips coming after each repeat transaction (and at time 0 for the
    MBG/NBD), so K - flip_at_start repeat transactions are ever made. Poisson counts N1 in
    (0, T] and N2 in (T, T+horizon]; given N1, the event times are uniform on (0, T], so
    the x-th of them is T * Beta(x, N1 - x + 1).
    """
    n = len(T)
    lam = rng.gamma(r, 1 / alpha, n)
    p = np.maximum(rng.beta(a, b, n), 1e-12)
    made = rng.geometric(p) - flip_at_start
    n1, n2 = rng.poisson(lam * T), rng.poisson(lam * horizon)
    x = np.minimum(n1, made)
    future = np.minimum(n1 + n2, made) - x
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), n1 - x + 1), 0.0)
    return x.astype(float), t_x, T, future


@pytest.fixture(scope="module", params=FAMILY, ids=["bgnbd", "mbgnbd"])
def world(request):
    """20,000 customers aged 27-39 weeks (the CDNOW calibration window) and the model fitted on them."""
    cls, flip = request.param
    rng = np.random.default_rng(0)
    x, t_x, T, future = simulate(**CDNOW, T=rng.uniform(27, 39, 20_000), horizon=39, flip_at_start=flip, rng=rng)
    return cls, flip, (x, t_x, T), cls().fit(x, t_x, T)


# ---------------------------------------------------------------- sBG: Fader & Hardie (2007)

REGULAR = [1000, 631, 468, 382, 326, 297, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]


@pytest.mark.parametrize(
    "alive, alpha, beta",
    # The paper's estimates (sect. 4). Its regular pair is not quite the optimum: the exact
    # MLE is 0.7025, 1.1806, and the log-likelihood at (0.704, 1.182) is 6e-4 lower.
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high_end"],
)
def test_sbg_reproduces_published_estimates_and_curve(alive, alpha, beta):
    model = ShiftedBetaGeometric().fit_survival_curve(alive)
    assert model.converged_
    assert model.params_["alpha"] == pytest.approx(alpha, abs=2e-3)
    assert model.params_["beta"] == pytest.approx(beta, abs=2e-3)
    observed = np.array(alive) / alive[0]
    fitted = model.survival(np.arange(len(alive)))
    assert np.max(np.abs(fitted - observed)) < 0.02
    published = ShiftedBetaGeometric.from_params(alpha=alpha, beta=beta).survival(np.arange(13))
    assert np.max(np.abs(model.survival(np.arange(13)) - published)) < 2e-3


def test_sbg_individual_records_weights_and_curve_agree():
    curve = ShiftedBetaGeometric().fit_survival_curve(REGULAR)
    lost = -np.diff(REGULAR)
    survived = np.concatenate([np.repeat(np.arange(7), lost), np.full(REGULAR[-1], 7)])
    alive = np.concatenate([np.zeros(lost.sum(), bool), np.ones(REGULAR[-1], bool)])
    rows = ShiftedBetaGeometric().fit(survived, alive)
    for name in ("alpha", "beta"):
        assert rows.params_[name] == pytest.approx(curve.params_[name], rel=1e-6)
    assert rows.log_likelihood_ == pytest.approx(curve.log_likelihood_, rel=1e-9)
    assert rows.log_likelihood(survived, alive).sum() == pytest.approx(rows.log_likelihood_, rel=1e-9)


def test_sbg_quantities_are_consistent():
    model = ShiftedBetaGeometric.from_params(alpha=0.704, beta=1.182)
    t = np.arange(1, 30)
    s = model.survival(np.arange(30))
    assert s[0] == 1.0 and np.all(np.diff(s) < 0)
    np.testing.assert_allclose(model.retention_rate(t), s[1:] / s[:-1], rtol=1e-12)
    np.testing.assert_allclose(model.churn_probability(t), s[:-1] - s[1:], rtol=1e-10)
    # P(churn in period n+1 | survived n) = P(T = n+1) / S(n) = alpha / (alpha + beta + n)
    n = np.arange(29)
    np.testing.assert_allclose(model.p_churn_next(n), model.churn_probability(n + 1) / s[:-1], rtol=1e-10)
    assert model.p_churn_next(0) == pytest.approx(0.704 / (0.704 + 1.182))
    assert np.all(np.diff(model.p_churn_next(n)) < 0)  # survivors are the loyal ones


@pytest.mark.parametrize("n, d", [(0, 0.1), (3, 0.1), (10, 0.05), (2, 1.0)])
def test_sbg_derl_is_the_discounted_sum_of_survival(n, d):
    model = ShiftedBetaGeometric.from_params(alpha=0.668, beta=3.806)
    k = np.arange(20_000)
    direct = np.sum(model.survival(n + 1 + k) / model.survival(n) * np.exp(-k * np.log1p(d)))
    assert model.discounted_expected_residual_lifetime(n, d) == pytest.approx(direct, rel=1e-8)


# ---------------------------------------------------------------- BG/NBD and MBG/NBD


def test_parameter_recovery(world):
    _, _, _, model = world
    assert model.converged_
    # Tolerances are ~3.5 standard errors at n = 20,000 (relative SEs from the Hessian:
    # r 2-3 %, alpha 3 %, a 8 %, b 10-12 %); the seed is fixed, so the test is deterministic.
    for name, rel in (("r", 0.10), ("alpha", 0.12), ("a", 0.30), ("b", 0.40)):
        assert model.params_[name] == pytest.approx(CDNOW[name], rel=rel), name


def test_log_likelihood_is_highest_near_the_truth(world):
    cls, _, data, model = world
    at = lambda **p: cls.from_params(**p).log_likelihood(*data).sum()  # noqa: E731
    truth = at(**CDNOW)
    assert model.log_likelihood(*data).sum() == pytest.approx(model.log_likelihood_, rel=1e-10)
    assert model.log_likelihood_ >= truth
    for name in CDNOW:
        for factor in (0.7, 1.4):
            assert truth > at(**{**CDNOW, name: CDNOW[name] * factor}), (name, factor)


def test_weights_equal_duplicated_rows(world):
    cls, _, (x, t_x, T), _ = world
    x, t_x, T = x[:1500], t_x[:1500], T[:1500]
    counts = np.random.default_rng(1).integers(1, 4, len(x))
    weighted = cls().fit(x, t_x, T, weights=counts)
    duplicated = cls().fit(np.repeat(x, counts), np.repeat(t_x, counts), np.repeat(T, counts))
    for name in CDNOW:
        assert weighted.params_[name] == pytest.approx(duplicated.params_[name], rel=1e-5)
    assert weighted.log_likelihood_ == pytest.approx(duplicated.log_likelihood_, rel=1e-9)


@pytest.mark.parametrize("cls, flip", FAMILY)
def test_p_alive(cls, flip):
    model = cls.from_params(**CDNOW)
    at_zero = model.p_alive([0, 0], [0, 0], [10, 50])
    if flip:
        assert np.all(at_zero < 1) and at_zero[1] < at_zero[0]  # may have left at time 0
    else:
        assert np.all(at_zero == 1.0)  # FHL: no repeat purchase, no chance yet to drop out
    T = 39.0
    for x in (1, 3, 10):
        t_x = np.linspace(T, 0, 40)  # T - t_x grows
        p = model.p_alive(x, t_x, T)
        assert np.all((p > 0) & (p <= 1)) and np.all(np.diff(p) < 0)
    assert model.p_alive(4, 39, 39) == pytest.approx(1 / (1 + 0.79 / (2.43 + 4 - 1 + flip)))


@pytest.mark.parametrize("cls, flip", FAMILY)
def test_expected_transactions_match_the_published_closed_forms(cls, flip):
    """FHL eqs. 7 and 10 (BG/NBD), Batislam et al. eqs. 7-8 (MBG/NBD), as printed."""
    r, alpha, a, b = CDNOW.values()
    model = cls.from_params(**CDNOW)
    t = np.array([0.5, 1, 10, 39, 78, 520])
    z0 = t / (alpha + t)
    if flip:
        unconditional = b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, z0))
    else:
        unconditional = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z0))
    np.testing.assert_allclose(model.expected_transactions_new(t), unconditional, rtol=1e-9)

    x, t_x, T = np.array([0, 1, 2, 5, 20, 60.0]), np.array([0, 5, 30, 35, 38, 38.9]), 39.0
    z = 39 / (alpha + T + 39)
    c = a + b + x - 1 + flip
    conditional = (
        model.p_alive(x, t_x, T) * c / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + 39)) ** (r + x) * hyp2f1(r + x, b + x + flip, c, z))
    )
    np.testing.assert_allclose(model.expected_transactions(39, x, t_x, T), conditional, rtol=1e-9)


@pytest.mark.parametrize("cls, flip", FAMILY)
def test_forecasts_match_simulation_given_history(cls, flip):
    """Averaged within groups of customers with like histories, E[Y | history] and
    P(no transaction | history) must match what the generative process then does."""
    rng = np.random.default_rng(7)
    x, t_x, T, future = simulate(**CDNOW, T=rng.uniform(27, 39, 100_000), horizon=39, flip_at_start=flip, rng=rng)
    model = cls.from_params(**CDNOW)
    expected = model.expected_transactions(39, x, t_x, T)
    none = model.p_no_transaction(39, x, t_x, T)
    lapsed_long = T - t_x > 20
    groups = [x == 0, x == 1, (x >= 2) & (x < 4), x >= 4, (x > 0) & lapsed_long, (x > 0) & ~lapsed_long]
    for g in groups:
        assert g.sum() > 3000
        se = future[g].std() / np.sqrt(g.sum())
        assert abs(future[g].mean() - expected[g].mean()) < 4 * se
        share = none[g].mean()
        assert abs((future[g] == 0).mean() - share) < 4 * np.sqrt(share * (1 - share) / g.sum())
    new = simulate(**CDNOW, T=np.full(100_000, 1e-9), horizon=39, flip_at_start=flip, rng=rng)[3]
    assert abs(new.mean() - model.expected_transactions_new(39)) < 4 * new.std() / np.sqrt(len(new))


@pytest.mark.parametrize("cls, flip", FAMILY)
def test_p_no_transaction_and_expectation_shapes(cls, flip):
    model = cls.from_params(**CDNOW)
    t = np.array([0.0, 1, 5, 20, 100, 1e4])
    for x, t_x in ((0, 0), (1, 10), (8, 38)):
        p = model.p_no_transaction(t, x, t_x, 39)
        assert p[0] == 1.0 and np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) < 0)
        # in the long run only the already-dead are sure to stay silent (r = 0.24: slowly)
        assert model.p_no_transaction(1e12, x, t_x, 39) == pytest.approx(1 - model.p_alive(x, t_x, 39), abs=0.01)
        e = model.expected_transactions(t, x, t_x, 39)
        assert e[0] == 0 and np.all(np.diff(e) > 0)
    assert model.expected_transactions(39, [1, 2], [20, 20], 39).shape == (2,)
    assert np.ndim(model.p_alive(1, 20, 39)) == 0


@pytest.mark.parametrize("cls, flip", FAMILY)
def test_expectation_is_continuous_through_a_equal_1_and_defined_for_small_a_plus_b(cls, flip):
    near = [
        cls.from_params(r=0.5, alpha=3, a=a, b=2).expected_transactions(20, 3, 10, 30)
        for a in (1 - 1e-3, 1, 1 + 1e-3)
    ]
    assert near[1] == pytest.approx((near[0] + near[2]) / 2, rel=1e-5)
    # a + b < 1: FHL eq. 7's 2F1(.; a+b-1; .) is undefined, the split form is not
    small = cls.from_params(r=0.5, alpha=3, a=0.3, b=0.4)
    e = small.expected_transactions_new(np.array([1.0, 10, 100]))
    assert np.all(np.isfinite(e)) and np.all(np.diff(e) > 0)


@pytest.mark.parametrize("cls, flip", FAMILY)
@pytest.mark.parametrize(
    "params", [CDNOW, dict(r=0.5, alpha=3, a=0.3, b=0.4), dict(r=2, alpha=1, a=1, b=5), dict(r=8, alpha=0.5, a=6, b=40)]
)
def test_expectation_matches_numerical_integration(cls, flip, params):
    """E[Y | history] = P(alive) * integral of (1 - (1 + p s)^-(r+x)) / p over p ~ Beta(a, b+x+m)."""
    from scipy.integrate import quad
    from scipy.special import beta as beta_fn

    model = cls.from_params(**params)
    for t, x, t_x, T in ((6, 0, 0, 12), (12, 3, 10, 24), (24, 15, 30, 31), (1, 1, 0.5, 1)):
        s, m = t / (params["alpha"] + T), params["r"] + x
        bb = params["b"] + x + flip
        per_p = lambda p: -np.expm1(-m * np.log1p(p * s)) / p if p > 0 else m * s  # noqa: E731
        integral, _ = quad(per_p, 0, 1, weight="alg", wvar=(params["a"] - 1, bb - 1), epsabs=0, epsrel=1e-11)
        expected = model.p_alive(x, t_x, T) * integral / beta_fn(params["a"], bb)
        assert model.expected_transactions(t, x, t_x, T) == pytest.approx(expected, rel=1e-7), (t, x, t_x, T)


@pytest.mark.parametrize("cls", [BetaGeoNBD, ModifiedBetaGeoNBD])
def test_gradient_matches_finite_differences(cls):
    from scipy.optimize import approx_fprime

    from dropout.model.btyd import _bg_loglik

    rng = np.random.default_rng(3)
    x, t_x, T, _ = simulate(**CDNOW, T=rng.uniform(27, 39, 500), horizon=0, flip_at_start=cls._m, rng=rng)
    p = np.array([0.3, 5.0, 0.9, 2.0])
    analytic = _bg_loglik(p, x, t_x, T, cls._m, gradient=True)[1].sum(axis=0)
    numeric = approx_fprime(p, lambda q: _bg_loglik(q, x, t_x, T, cls._m).sum(), 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    "x, t_x, T, message",
    [
        ([1, -1], [1, 1], [2, 2], r"x must be a whole number >= 0; got -1.0 at position 1"),
        ([1, 1.5], [1, 1], [2, 2], r"x must be a whole number >= 0; got 1.5 at position 1"),
        ([1, np.nan], [1, 1], [2, 2], r"x must be .* got nan at position 1"),
        ([1, 1], [1, -0.5], [2, 2], r"t_x must be finite and >= 0; got -0.5 at position 1"),
        ([1, 1], [1, 1], [2, 0], r"T must be finite and > 0 .*; got 0.0 at position 1"),
        ([1, 1], [1, 3], [2, 2], r"t_x must be <= T .*got t_x=3.0 > T=2.0 at position 1"),
        ([1, 0], [1, 1], [2, 2], r"t_x must be 0 where x is 0 .*got 1.0 at position 1"),
        ([1, 1], [1, 1, 1], [2, 2], r"x, t_x, T must have matching shapes"),
        (["a"], [1], [2], r"x must be numeric"),
    ],
)
def test_history_is_validated(x, t_x, T, message):
    with pytest.raises(BTYDInputError, match=message):
        BetaGeoNBD().fit(x, t_x, T)
    with pytest.raises(BTYDInputError, match=message):
        ModifiedBetaGeoNBD.from_params(**CDNOW).p_alive(x, t_x, T)


def test_other_arguments_are_validated():
    model = BetaGeoNBD.from_params(**CDNOW)
    with pytest.raises(BTYDInputError, match=r"t must be finite and >= 0; got -1.0"):
        model.expected_transactions(-1, 1, 1, 2)
    with pytest.raises(BTYDInputError, match=r"t must be finite and >= 0; got inf"):
        model.p_no_transaction(np.inf, 1, 1, 2)
    with pytest.raises(BTYDInputError, match=r"weights must be finite and >= 0; got -1.0 at position 0"):
        BetaGeoNBD().fit([1, 2], [1, 1], 2, weights=[-1, 1])
    with pytest.raises(BTYDInputError, match=r"weights must have one value per customer \(2\)"):
        BetaGeoNBD().fit([1, 2], [1, 1], 2, weights=[1, 1, 1])
    with pytest.raises(BTYDInputError, match=r"weights must not all be 0"):
        BetaGeoNBD().fit([1, 2], [1, 1], 2, weights=[0, 0])
    with pytest.raises(BTYDInputError, match=r"fit needs a non-empty 1-D sample"):
        BetaGeoNBD().fit([], [], [])
    with pytest.raises(BTYDInputError, match=r"max_iter must be a positive integer; got 0"):
        BetaGeoNBD(max_iter=0).fit([1], [1], [2])
    with pytest.raises(BTYDInputError, match=r"a must be finite and > 0; got -0.5"):
        BetaGeoNBD.from_params(r=1, alpha=1, a=-0.5, b=1)
    with pytest.raises(BTYDInputError, match=r"needs exactly"):
        BetaGeoNBD.from_params(r=1, alpha=1, a=1)
    with pytest.raises(NotFittedError, match=r"BetaGeoNBD is not fitted yet"):
        BetaGeoNBD().p_alive(1, 1, 2)


def test_sbg_arguments_are_validated():
    model = ShiftedBetaGeometric.from_params(alpha=1, beta=2)
    with pytest.raises(BTYDInputError, match=r"n_alive must not increase; got n_alive\[2\]=700.0 > n_alive\[1\]=600.0"):
        ShiftedBetaGeometric().fit_survival_curve([1000, 600, 700])
    with pytest.raises(BTYDInputError, match=r"n_alive\[0\] \(the cohort size\) must be > 0"):
        ShiftedBetaGeometric().fit_survival_curve([0, 0])
    with pytest.raises(BTYDInputError, match=r"n_alive must be 1-D with the cohort and at least one period"):
        ShiftedBetaGeometric().fit_survival_curve([1000])
    with pytest.raises(BTYDInputError, match=r"periods_survived must be a whole number >= 0; got 1.5 at position 1"):
        ShiftedBetaGeometric().fit([1, 1.5], [True, False])
    with pytest.raises(BTYDInputError, match=r"alive must be True/False \(or 1/0\); got 2.0 at position 0"):
        ShiftedBetaGeometric().fit([1, 1], [2, 0])
    with pytest.raises(BTYDInputError, match=r"t must be a period number >= 1; got 0.0"):
        model.retention_rate(0)
    with pytest.raises(BTYDInputError, match=r"discount_rate must be finite and > 0; got 0.0"):
        model.discounted_expected_residual_lifetime(1, 0)
    with pytest.raises(NotFittedError):
        ShiftedBetaGeometric().survival(1)
