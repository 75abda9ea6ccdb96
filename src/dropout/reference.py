"""Reference data read from features/: contribution rules and subsidy policies."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from dropout.paths import features_dir


@dataclass(frozen=True)
class PaymentMode:
    name: str
    months_covered: int
    deadline_months: int


@dataclass(frozen=True)
class ContributionRules:
    contribution_rate: float
    poverty_line_vnd: int
    reference_level_vnd: int
    max_base_multiple: int
    subsidy_max_months: int
    withdrawal_after_months_out: int
    withdrawal_enrolled_before: pd.Timestamp
    withdrawal_max_years_paid: int
    pension_years_required: int
    pension_age: dict
    makeup_interest_rate_yearly: float
    payment_modes: dict[str, PaymentMode]

    @property
    def min_income_base(self) -> int:
        return self.poverty_line_vnd

    @property
    def max_income_base(self) -> int:
        return self.max_base_multiple * self.reference_level_vnd


@lru_cache(maxsize=4)
def contribution_rules(path: str | None = None) -> ContributionRules:
    """Read features/contribution_rules.yaml (or `path`)."""
    p = Path(path) if path else features_dir() / "contribution_rules.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    modes = {
        name: PaymentMode(name, int(v["months_covered"]), int(v["deadline_months"]))
        for name, v in raw.pop("payment_modes").items()
    }
    raw["withdrawal_enrolled_before"] = pd.Timestamp(raw["withdrawal_enrolled_before"])
    return ContributionRules(payment_modes=modes, **raw)


def subsidy_policies(path: str | None = None) -> pd.DataFrame:
    """Read features/subsidy_policies.csv (or `path`) as a subsidy_policies table."""
    p = Path(path) if path else features_dir() / "subsidy_policies.csv"
    df = pd.read_csv(p, dtype={"province": str, "group": str, "source": str})
    df["valid_from"] = pd.to_datetime(df["valid_from"]).astype("datetime64[ns]")
    df["valid_to"] = pd.to_datetime(df["valid_to"]).astype("datetime64[ns]")
    df["rate"] = df["rate"].astype(float)
    return df[["province", "group", "valid_from", "valid_to", "rate"]]
