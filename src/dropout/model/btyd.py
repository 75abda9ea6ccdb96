"""Buy-'til-you-die (BTYD) models, fitted by maximum likelihood: BG/NBD, MBG/NBD, sBG.

For us a payment is a "transaction". Time 0 is the first payment (enrolment), `x` the
number of repeat payments, `t_x` the time of the last one (0 when x = 0) and `T` the age
(time from the first payment to the end of observation), all in one unit (e.g. months).

Non-contractual (the lapse is never announced): `BetaGeoNBD`, `ModifiedBetaGeoNBD`.
  While alive a customer pays at Poisson rate lambda ~ Gamma(r, rate alpha); after each
  repeat transaction (BG/NBD, Fader, Hardie & Lee 2005, "Counting your customers the easy
  way", Marketing Science 24(2)) -- and also right after the first one at time 0
  (MBG/NBD, Batislam, Denizel & Filiztekin 2007, IJRM 24(3)) -- the customer drops out
  with probability p ~ Beta(a, b). With m = 1 for the MBG/NBD and m = 0 for the BG/NBD,
  a customer alive at T has survived x + m coin flips, so ("B" the beta function)

    L(x, t_x, T) = Gamma(r+x) alpha^r / Gamma(r) * [ B(a, b+x+m) / B(a,b) / (alpha+T)^(r+x)
                    + 1{x+m>0} B(a+1, b+x+m-1) / B(a,b) / (alpha+t_x)^(r+x) ]

  (FHL eq. 6; Batislam eq. 5), the first term "alive at T", the second "dropped out
  right after the last transaction". P(alive | history) is the first term's share:
  1 / (1 + 1{x+m>0} a/(b+x+m-1) ((alpha+T)/(alpha+t_x))^(r+x)) (FHL eq. 13). Given alive,
  lambda | history ~ Gamma(r+x, alpha+T) and p | history ~ Beta(a, b+x+m), and an alive
  customer makes (1 - exp(-lambda p t)) / p transactions in (T, T+t] on average, so

    E[Y(t) | history] = P(alive) * E_p[(1 - (1 + p s)^-(r+x)) / p],   s = t / (alpha+T).

  With bb = b+x+m, splitting 1/p = (1-p)/p + 1 and Euler's integral for 2F1 gives

    E_p[...] = bb/(a-1) [1 - 2F1(r+x, a-1; a+bb; -s)] + 1 - 2F1(r+x, a; a+bb; -s),

  which Pfaff's transformation 2F1(A,B;C;-s) = (1+s)^-B 2F1(C-A, B; C; z), z = s/(1+s) =
  t/(alpha+T+t) in [0, 1), turns into series scipy sums reliably (c = a+bb > 0 always,
  the first argument a+b+m-r is the same for everyone). It equals FHL eq. 10 and
  Batislam eq. 8 where those are defined, and stays defined when a+b <= 1, where eq. 10's
  2F1(.;a+b-1;.) is not. At a = 1 the 1/(a-1) is removable: we average a = 1 -/+ 1e-5.
  The unconditional E[X(t)] (FHL eq. 7) is the same at x = t_x = T = 0. Checked against
  40-digit arithmetic to 1e-6 for z <= 0.99 over wide parameter ranges; at horizons of
  ~1000 x (alpha+T) and beyond scipy's 2F1 can fail, and then we raise FloatingPointError
  rather than return a wrong number. Finally, with no 2F1,
  P(no transaction in (T, T+t] | history) = 1 - P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x)).

Contractual, discrete periods: `ShiftedBetaGeometric` (Fader & Hardie 2007, "How to
  project customer retention", J. Interactive Marketing 21(1)). A customer renews each
  period with probability 1 - theta, theta ~ Beta(alpha, beta); lifetime T in periods:
  P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta), S(t) = P(T > t) = B(alpha, beta+t)/
  B(alpha, beta), retention r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1) (eqs. 5-8).
  After surviving n periods theta ~ Beta(alpha, beta+n), so P(churn in period n+1) =
  alpha/(alpha+beta+n). DERL (Fader & Hardie 2010, "Customer-base valuation in a
  contractual setting", Marketing Science 29(1), eq. 6), for a customer who has survived
  n periods and is about to renew: sum_{k>=0} S(n+1+k)/S(n)/(1+d)^k
  = (beta+n)/(alpha+beta+n) 2F1(1, beta+n+1; alpha+beta+n+1; 1/(1+d)).

Every model: configured in __init__, `fit` returns self, learned state in `params_`,
`converged_`, `log_likelihood_`; `from_params` builds one with known parameters.
Parameters are fitted on the log scale by L-BFGS-B with analytic gradients.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from dropout.errors import DropoutError

_LOG_BOUND = 20.0  # parameters live in [e^-20, e^20]; reaching a bound means no interior optimum


class BTYDInputError(DropoutError, ValueError):
    """An argument given to a BTYD model is out of range; the message names it and the value."""


class NotFittedError(DropoutError, AttributeError):
    """A BTYD model was used before `fit` (or `from_params`)."""


# ---------------------------------------------------------------- input checks


def _array(name: str, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise BTYDInputError(f"{name} must be numeric; got {value!r:.80}") from exc


def _refuse(name: str, arr: np.ndarray, bad: np.ndarray, must: str) -> None:
    if np.any(bad):
        i = int(np.flatnonzero(np.broadcast_to(bad, arr.shape))[0])
        where = f" at position {i}" if arr.ndim else ""
        raise BTYDInputError(f"{name} must be {must}; got {float(arr.ravel()[i])!r}{where}")


def _count(name: str, value) -> np.ndarray:
    arr = _array(name, value)
    _refuse(name, arr, ~np.isfinite(arr) | (arr < 0) | (arr != np.floor(arr)), "a whole number >= 0")
    return arr


def _nonneg(name: str, value) -> np.ndarray:
    arr = _array(name, value)
    _refuse(name, arr, ~np.isfinite(arr) | (arr < 0), "finite and >= 0")
    return arr


def _broadcast(**arrays: np.ndarray) -> list[np.ndarray]:
    try:
        return np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise BTYDInputError(f"{', '.join(arrays)} must have matching shapes; got {shapes}") from None


def _history(x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (x, t_x, T): x whole >= 0, T > 0, 0 <= t_x <= T, t_x = 0 where x = 0."""
    x, t_x, T = _count("x", x), _nonneg("t_x", t_x), _array("T", T)
    _refuse("T", T, ~np.isfinite(T) | (T <= 0), "finite and > 0 (the age since the first transaction)")
    x, t_x, T = _broadcast(x=x, t_x=t_x, T=T)
    over = t_x > T
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise BTYDInputError(
            f"t_x must be <= T (the last transaction lies inside the observation); "
            f"got t_x={float(t_x.ravel()[i])!r} > T={float(T.ravel()[i])!r} at position {i}"
        )
    _refuse("t_x", t_x, (x == 0) & (t_x != 0), "0 where x is 0 (no repeat transaction, no last time)")
    return x, t_x, T


def _weights(weights, n: int) -> np.ndarray:
    """Validated 1-D weights (counts of identical customers) of length n; None means ones."""
    if weights is None:
        return np.ones(n)
    w = _nonneg("weights", weights)
    if w.shape != (n,):
        raise BTYDInputError(f"weights must have one value per customer ({n}); got shape {w.shape}")
    if w.sum() <= 0:
        raise BTYDInputError("weights must not all be 0")
    return w


def _fit_rows(*arrays: np.ndarray) -> list[np.ndarray]:
    """Flatten broadcast fit inputs to 1-D; refuse an empty sample."""
    if arrays[0].ndim > 1 or arrays[0].size == 0:
        raise BTYDInputError(f"fit needs a non-empty 1-D sample of customers; got shape {arrays[0].shape}")
    return [np.atleast_1d(a).astype(float) for a in arrays]


def _positive_params(**params: float) -> dict[str, float]:
    for name, value in params.items():
        if not (np.isfinite(value) and value > 0):
            raise BTYDInputError(f"{name} must be finite and > 0; got {value!r}")
    return {k: float(v) for k, v in params.items()}


def _check_settings(max_iter, tol) -> None:
    if not (isinstance(max_iter, (int, np.integer)) and max_iter > 0):
        raise BTYDInputError(f"max_iter must be a positive integer; got {max_iter!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise BTYDInputError(f"tol must be finite and > 0; got {tol!r}")


def _maximise(objective, starts, max_iter: int, tol: float):
    """Best L-BFGS-B run over the starting points (log-parameters); returns (result, converged)."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(starts[0])
    runs = [
        minimize(objective, np.clip(s, -_LOG_BOUND, _LOG_BOUND), jac=True, method="L-BFGS-B",
                 bounds=bounds, options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-9})
        for s in starts
    ]
    best = min(runs, key=lambda res: res.fun)
    inside = np.all(np.abs(best.x) < _LOG_BOUND - 1e-6)
    return best, bool(best.success and inside and np.isfinite(best.fun))


class _Fitted:
    _names: tuple[str, ...] = ()

    def __init__(self, max_iter: int = 1000, tol: float = 1e-12):
        self.max_iter = max_iter
        self.tol = tol

    @classmethod
    def from_params(cls, **params: float):
        """A model with known parameters (no fitting), e.g. to simulate or to compare."""
        if set(params) != set(cls._names):
            raise BTYDInputError(f"{cls.__name__}.from_params needs exactly {cls._names}; got {tuple(params)}")
        model = cls()
        model.params_ = _positive_params(**{k: params[k] for k in cls._names})
        return model

    def _params(self) -> tuple[float, ...]:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(...) first")
        return tuple(self.params_[k] for k in self._names)

    def _store(self, result, converged: bool, total_weight: float):
        self.params_ = dict(zip(self._names, np.exp(result.x).tolist()))
        self.converged_ = converged
        self.log_likelihood_ = float(-result.fun * total_weight)
        return self


# ---------------------------------------------------------------- BG/NBD and MBG/NBD


class _BetaGeoFamily(_Fitted):
    _names = ("r", "alpha", "a", "b")
    _m = 0  # coin flips survived beyond the x repeat ones: 1 when dropout is possible at time 0

    def fit(self, x, t_x, T, weights=None):
        """Maximum-likelihood r, alpha, a, b from per-customer (x, t_x, T); weights count duplicates."""
        _check_settings(self.max_iter, self.tol)
        x, t_x, T = _fit_rows(*_history(x, t_x, T))
        w = _weights(weights, len(x))
        wn = w / w.sum()

        def objective(theta):
            ll, grad = _bg_loglik(np.exp(theta), x, t_x, T, self._m, gradient=True)
            return -float(wn @ ll), -(wn @ grad) * np.exp(theta)

        rate = max(float(wn @ x), 0.05) / float(wn @ T)  # r / alpha matches the mean rate
        starts = [np.log([r, r / rate, a, b]) for r, a, b in ((1.0, 1.0, 1.0), (0.3, 0.7, 2.5), (3.0, 2.0, 10.0))]
        result, converged = _maximise(objective, starts, self.max_iter, self.tol)
        return self._store(result, converged, w.sum())

    def log_likelihood(self, x, t_x, T) -> np.ndarray:
        """Per-customer log-likelihood log L(x, t_x, T) at the fitted parameters."""
        return _bg_loglik(self._params(), *_history(x, t_x, T), self._m)[()]

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(still alive at T | x, t_x, T)."""
        return self._p_alive(*_history(x, t_x, T))[()]

    def _p_alive(self, x, t_x, T):
        r, alpha, a, b = self._params()
        flips = x + self._m
        log_odds_dead = np.where(
            flips > 0,
            np.log(a) - np.log(np.where(flips > 0, b + flips - 1, 1.0))
            + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
            -np.inf,
        )
        return expit(-log_odds_dead)

    def expected_transactions(self, t, x, t_x, T) -> np.ndarray:
        """E[number of transactions in (T, T+t] | x, t_x, T] (FHL eq. 10, Batislam eq. 8)."""
        t = _nonneg("t", t)
        x, t_x, T = _history(x, t_x, T)
        t, x, t_x, T = _broadcast(t=t, x=x, t_x=t_x, T=T)
        return (self._p_alive(x, t_x, T) * self._future_if_alive(t, x, T))[()]

    def expected_transactions_new(self, t) -> np.ndarray:
        """E[X(t)]: expected repeat transactions in (0, t] of a customer just acquired (FHL eq. 7)."""
        t = _nonneg("t", t)
        zero = np.zeros_like(t)
        return (self._p_alive(zero, zero, zero) * self._future_if_alive(t, zero, zero))[()]

    def p_no_transaction(self, t, x, t_x, T) -> np.ndarray:
        """P(no transaction in (T, T+t] | x, t_x, T): dead already, or alive and lambda draws none."""
        t = _nonneg("t", t)
        x, t_x, T = _history(x, t_x, T)
        t, x, t_x, T = _broadcast(t=t, x=x, t_x=t_x, T=T)
        r, alpha, _, _ = self._params()
        some = -np.expm1(-(r + x) * np.log1p(t / (alpha + T)))  # 1 - ((alpha+T)/(alpha+T+t))^(r+x)
        return (1.0 - self._p_alive(x, t_x, T) * some)[()]

    def _future_if_alive(self, t, x, T):
        """E[(1 - (1 + p s)^-(r+x)) / p], p ~ Beta(a, b+x+m), s = t/(alpha+T): see the module doc."""
        r, alpha, a, b = self._params()
        if abs(a - 1.0) < 1e-5:  # removable singularity of the 1/(a-1) form: average both sides
            return 0.5 * sum(_future(r, alpha, a_, b, self._m, t, x, T) for a_ in (1 - 1e-5, 1 + 1e-5))
        return _future(r, alpha, a, b, self._m, t, x, T)


def _future(r, alpha, a, b, m, t, x, T):
    bb = b + x + m
    c = a + bb
    z = t / (alpha + T + t)  # in [0, 1): the range where the 2F1 series and scipy are reliable
    log1ps = np.log1p(t / (alpha + T))
    f_shift = hyp2f1(a + b + m - r, a - 1.0, c, z)
    f_same = hyp2f1(a + b + m - r, a, c, z)
    if not (np.all(np.isfinite(f_shift)) and np.all(np.isfinite(f_same))):
        raise FloatingPointError(
            f"hyp2f1 gave a non-finite value (r={r}, alpha={alpha}, a={a}, b={b}, max z={np.max(z)}); "
            "the horizon t is probably far beyond the data's time scale"
        )
    after_survival = bb / (a - 1.0) * (1.0 - np.exp(-(a - 1.0) * log1ps) * f_shift)
    first = 1.0 - np.exp(-a * log1ps) * f_same
    return after_survival + first


def _bg_loglik(params, x, t_x, T, m, gradient=False):
    """Per-customer log-likelihood of the (M)BG/NBD (module doc) and, if asked, its gradient."""
    r, alpha, a, b = params
    flips = x + m
    dies = flips > 0
    b_dead = np.where(dies, b + flips - 1, 1.0)  # the second term exists only after a coin flip
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + flips) - (r + x) * np.log(alpha + T)
    dead = np.where(dies, betaln(a + 1, b_dead) - (r + x) * np.log(alpha + t_x), -np.inf)
    ll = common + np.logaddexp(alive, dead)
    if not gradient:
        return ll
    share = expit(dead - alive)  # posterior P(dropped out | history); 0 where no flip happened
    dr = digamma(r + x) - digamma(r) + np.log(alpha) - (1 - share) * np.log(alpha + T) - share * np.log(alpha + t_x)
    dalpha = r / alpha - (r + x) * ((1 - share) / (alpha + T) + share / (alpha + t_x))
    psi_all = digamma(a + b + flips)
    da = digamma(a + b) - psi_all + share / a
    db = digamma(a + b) - digamma(b) - psi_all + (1 - share) * digamma(b + flips) + share * digamma(b_dead)
    return ll, np.column_stack([dr, dalpha, da, db])


class BetaGeoNBD(_BetaGeoFamily):
    """BG/NBD (Fader, Hardie & Lee 2005): dropout possible only after a repeat transaction.

    A customer with x = 0 has never flipped the coin, so P(alive) = 1 by definition.
    """

    _m = 0


class ModifiedBetaGeoNBD(_BetaGeoFamily):
    """MBG/NBD (Batislam, Denizel & Filiztekin 2007): dropout possible at time 0 as well."""

    _m = 1


# ---------------------------------------------------------------- shifted beta-geometric


class ShiftedBetaGeometric(_Fitted):
    """sBG (Fader & Hardie 2007): discrete-period contractual retention with churn-rate heterogeneity.

    `periods_survived` n counts the periods a customer completed (renewals made). `alive`
    True means still a customer after those n periods (right-censored, contributes S(n));
    False means churned in period n+1 (contributes P(T = n+1)).
    """

    _names = ("alpha", "beta")

    def fit(self, periods_survived, alive, weights=None):
        """Maximum-likelihood alpha, beta from per-customer (periods_survived, alive)."""
        _check_settings(self.max_iter, self.tol)
        n, churned = _fit_rows(*self._observations(periods_survived, alive))
        w = _weights(weights, len(n))
        wn = w / w.sum()

        def objective(theta):
            ll, grad = _sbg_loglik(np.exp(theta), n, churned, gradient=True)
            return -float(wn @ ll), -(wn @ grad) * np.exp(theta)

        starts = [np.log([1.0, 1.0]), np.log([0.5, 3.0]), np.log([3.0, 0.5])]
        result, converged = _maximise(objective, starts, self.max_iter, self.tol)
        return self._store(result, converged, w.sum())

    def fit_survival_curve(self, n_alive):
        """Fit from an aggregate curve: n_alive[t] customers still active after t periods, n_alive[0] the cohort."""
        counts = _nonneg("n_alive", n_alive)
        if counts.ndim != 1 or counts.size < 2:
            raise BTYDInputError(
                f"n_alive must be 1-D with the cohort and at least one period; got shape {counts.shape}"
            )
        if counts[0] <= 0:
            raise BTYDInputError(f"n_alive[0] (the cohort size) must be > 0; got {float(counts[0])!r}")
        rise = np.flatnonzero(np.diff(counts) > 0)
        if rise.size:
            i = int(rise[0]) + 1
            raise BTYDInputError(
                f"n_alive must not increase; got n_alive[{i}]={float(counts[i])!r} "
                f"> n_alive[{i - 1}]={float(counts[i - 1])!r}"
            )
        # survived t periods then churned (t = 0..K-1, weight = lost in period t+1); K survivors censored
        periods = np.arange(counts.size)
        alive = periods == periods[-1]
        return self.fit(periods, alive, weights=np.append(-np.diff(counts), counts[-1]))

    def log_likelihood(self, periods_survived, alive) -> np.ndarray:
        """Per-customer log-likelihood at the fitted alpha, beta."""
        return _sbg_loglik(self._params(), *self._observations(periods_survived, alive))[()]

    def survival(self, t) -> np.ndarray:
        """S(t) = P(T > t): share of a new cohort still active after t periods."""
        alpha, beta = self._params()
        t = _count("t", t)
        return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))[()]

    def retention_rate(self, t) -> np.ndarray:
        """r_t = S(t)/S(t-1) = (beta+t-1)/(alpha+beta+t-1), t >= 1: the cohort's period-t renewal rate."""
        alpha, beta = self._params()
        t = self._period("t", t)
        return ((beta + t - 1) / (alpha + beta + t - 1))[()]

    def churn_probability(self, t) -> np.ndarray:
        """P(T = t) = B(alpha+1, beta+t-1)/B(alpha, beta): a new customer churns in period t >= 1."""
        alpha, beta = self._params()
        t = self._period("t", t)
        return np.exp(betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta))[()]

    def p_churn_next(self, periods_survived) -> np.ndarray:
        """P(churn in period n+1 | survived n periods) = alpha/(alpha+beta+n), the posterior mean churn."""
        alpha, beta = self._params()
        n = _count("periods_survived", periods_survived)
        return (alpha / (alpha + beta + n))[()]

    def discounted_expected_residual_lifetime(self, periods_survived, discount_rate) -> np.ndarray:
        """DERL (Fader & Hardie 2010): expected discounted number of further renewals.

        sum_{k>=0} S(n+1+k)/S(n)/(1+d)^k for a customer who has made n renewals and stands at
        the end of period n+1, just before the next one (counted undiscounted); F&H's "n-1
        renewals" is our n. Multiply by the payment per period for a value. Needs d > 0
        (with d = 0 and alpha <= 1 the sum diverges).
        """
        alpha, beta = self._params()
        n = _count("periods_survived", periods_survived)
        d = _array("discount_rate", discount_rate)
        _refuse("discount_rate", d, ~np.isfinite(d) | (d <= 0), "finite and > 0")
        n, d = _broadcast(periods_survived=n, discount_rate=d)
        series = hyp2f1(1.0, beta + n + 1, alpha + beta + n + 1, 1.0 / (1.0 + d))  # z < 1: converges
        if not np.all(np.isfinite(series)):
            raise FloatingPointError(f"hyp2f1 gave a non-finite value (alpha={alpha}, beta={beta})")
        return ((beta + n) / (alpha + beta + n) * series)[()]

    @staticmethod
    def _period(name, t):
        t = _count(name, t)
        _refuse(name, t, t < 1, "a period number >= 1")
        return t

    @staticmethod
    def _observations(periods_survived, alive):
        n = _count("periods_survived", periods_survived)
        flag = np.asarray(alive)
        if flag.dtype != bool:
            flag = _array("alive", flag)
            _refuse("alive", flag, (flag != 0) & (flag != 1), "True/False (or 1/0)")
        n, flag = _broadcast(periods_survived=n, alive=flag.astype(bool))
        return n, (~flag).astype(float)


def _sbg_loglik(params, n, churned, gradient=False):
    """log B(alpha+k, beta+n) - log B(alpha, beta), k = 1 if churned in period n+1 else 0."""
    alpha, beta = params
    ll = betaln(alpha + churned, beta + n) - betaln(alpha, beta)
    if not gradient:
        return ll
    psi_sum, psi_all = digamma(alpha + beta), digamma(alpha + beta + n + churned)
    dalpha = digamma(alpha + churned) - digamma(alpha) + psi_sum - psi_all
    dbeta = digamma(beta + n) - digamma(beta) + psi_sum - psi_all
    return ll, np.column_stack([dalpha, dbeta])
