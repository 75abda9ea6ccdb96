"""Rolling-origin temporal splits of as-of dates (named after dssg/triage's timechop).

Every block is a half-open interval of as-of dates, [start, end). For each fold:

    train [train_start, train_end) .. validation gap .. validation [val_start, val_end)
          .. gap .. test [test_start, test_end)

A snapshot's label is known `horizon` days after its as_of (the next installment falls
due within the horizon and is unpaid by then). With `gap_days >= horizon`, every label of
a training or validation row is settled strictly before the first test as_of: nothing
the model learns from was unknown on the day the test list would have been drawn.
Test blocks are consecutive and end at the last labelled as_of; each fold trains on all
the history before its own validation block (an expanding window).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from dropout.errors import ConfigError


@dataclass(frozen=True)
class Fold:
    """One train / validation / test split of as-of dates (all intervals half-open)."""

    index: int
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    val_start: pd.Timestamp
    val_end: pd.Timestamp
    test_start: pd.Timestamp | None
    test_end: pd.Timestamp | None

    @property
    def name(self) -> str:
        return "final" if self.test_start is None else f"fold{self.index}"

    def masks(self, as_of: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boolean masks (train, validation, test) over a column of as-of dates."""
        a = pd.to_datetime(np.asarray(as_of))
        train = (a >= self.train_start) & (a < self.train_end)
        val = (a >= self.val_start) & (a < self.val_end)
        if self.test_start is None:
            test = np.zeros(len(a), dtype=bool)
        else:
            test = (a >= self.test_start) & (a < self.test_end)
        return np.asarray(train), np.asarray(val), np.asarray(test)

    def as_dict(self) -> dict:
        return {k: (v.date().isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in asdict(self).items()}


def make_folds(
    as_of_dates,
    *,
    folds: int,
    test_months: int,
    validation_months: int,
    gap_days: int,
    validation_gap_days: int,
    min_train_months: int = 6,
) -> list[Fold]:
    """Rolling-origin folds over the labelled as-of dates, oldest first.

    Args:
        as_of_dates: the as-of dates that have labels (any order, duplicates allowed).
        gap_days: days between the end of validation and the start of test; must be at
            least the label horizon (the config checks this).
        validation_gap_days: days between the end of training and validation.
    Raises:
        ConfigError: when the history is too short for the folds asked for.
    """
    dates = pd.DatetimeIndex(pd.to_datetime(pd.Series(as_of_dates)).unique()).sort_values()
    if len(dates) == 0:
        raise ConfigError("no labelled as-of dates to split into folds")
    first, last = dates[0], dates[-1]
    end = _end_after(last)
    out = []
    for i in range(folds):
        test_end = end - pd.DateOffset(months=test_months * (folds - 1 - i))
        test_start = test_end - pd.DateOffset(months=test_months)
        fold = _fold_before(i, first, test_start, validation_months, gap_days, validation_gap_days)
        fold = Fold(**{**asdict(fold), "test_start": test_start, "test_end": test_end})
        _check_long_enough(fold, dates, min_train_months)
        out.append(fold)
    return out


def final_fold(
    as_of_dates, *, validation_months: int, validation_gap_days: int, min_train_months: int = 6
) -> Fold:
    """The split for the model that ships: train on everything, validate on the last months."""
    dates = pd.DatetimeIndex(pd.to_datetime(pd.Series(as_of_dates)).unique()).sort_values()
    if len(dates) == 0:
        raise ConfigError("no labelled as-of dates for the final fit")
    end = _end_after(dates[-1])
    val_start = end - pd.DateOffset(months=validation_months)
    train_end = val_start - pd.Timedelta(days=validation_gap_days)
    fold = Fold(-1, dates[0], train_end, val_start, end, None, None)
    _check_long_enough(fold, dates, min_train_months)
    return fold


def _end_after(last: pd.Timestamp) -> pd.Timestamp:
    """The first month start strictly after the last as_of: blocks then align on months."""
    return last.normalize() + pd.offsets.MonthBegin(1)


def _fold_before(i, first, test_start, validation_months, gap_days, validation_gap_days) -> Fold:
    val_end = test_start - pd.Timedelta(days=gap_days)
    val_start = val_end - pd.DateOffset(months=validation_months)
    train_end = val_start - pd.Timedelta(days=validation_gap_days)
    return Fold(i, first, train_end, val_start, val_end, None, None)


def _check_long_enough(fold: Fold, dates: pd.DatetimeIndex, min_train_months: int) -> None:
    n_train = int(((dates >= fold.train_start) & (dates < fold.train_end)).sum())
    n_val = int(((dates >= fold.val_start) & (dates < fold.val_end)).sum())
    span = (fold.train_end - fold.train_start).days / 30.4375
    if n_val == 0 or n_train == 0 or span < min_train_months - 0.5:
        raise ConfigError(
            f"{fold.name}: history too short (train {fold.train_start.date()}..{fold.train_end.date()} "
            f"has {n_train} as-of dates, validation {fold.val_start.date()}..{fold.val_end.date()} has "
            f"{n_val}; need >= {min_train_months} months of training). Use fewer folds, shorter "
            "test/validation blocks, or an earlier as_of.start"
        )


def check_no_leak(fold: Fold, as_of: pd.Series, label_known_on: pd.Series) -> None:
    """Raise if a training or validation row's label is settled on or after the test start."""
    if fold.test_start is None:
        return
    train, val, _ = fold.masks(as_of)
    known = pd.to_datetime(pd.Series(label_known_on).to_numpy())
    bad = (train | val) & (known >= fold.test_start)
    if bad.any():
        first = pd.Series(as_of)[bad].iloc[0]
        raise AssertionError(
            f"{fold.name}: {int(bad.sum())} training/validation rows have labels settled on or "
            f"after the test start {fold.test_start.date()} (first as_of {pd.Timestamp(first).date()})"
        )
