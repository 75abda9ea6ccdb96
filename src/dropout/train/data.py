"""From raw tables to what a backtest needs: the training frame and its row context.

The training frame comes from `dropout.labels.build_training_frame` (features in
catalog order + label). Beside it, aligned row for row, a *context* frame holds what
evaluation and baselines need but the model must not see: the groups for fairness
breakdowns (district, province, ethnic group, sex, poverty status at as_of), history
facts for the baselines, the day each label is settled, and, for simulated data, the
oracle probability the simulator drew the outcome from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dropout.schema import Tables
from dropout.model.baselines import history_summary

KEY_COLUMNS = ("participant_id", "as_of")
LABEL_COLUMNS = ("label", "label_period_start", "label_due_on")
GROUP_COLUMNS = ("district", "province", "ethnic_group", "sex", "poverty_status", "status")


@dataclass
class Dataset:
    """A training frame, its aligned context, and what was used to build it."""

    frame: pd.DataFrame
    context: pd.DataFrame
    feature_names: list[str]
    monotone: list[int]
    target: str
    horizon_days: int
    data_fingerprint: str = ""
    extracted_on: pd.Timestamp | None = None
    catalog: list = field(default_factory=list)

    @property
    def has_oracle(self) -> bool:
        return "oracle_p" in self.context and self.context["oracle_p"].notna().any()

    def subset(self, mask: np.ndarray) -> "Dataset":
        return Dataset(
            self.frame.loc[mask], self.context.loc[mask], self.feature_names, self.monotone,
            self.target, self.horizon_days, self.data_fingerprint, self.extracted_on, self.catalog,
        )


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a training frame: everything but keys and label columns."""
    skip = set(KEY_COLUMNS) | set(LABEL_COLUMNS)
    return [c for c in frame.columns if c not in skip]


def group_columns(tables: Tables, keys: pd.DataFrame) -> pd.DataFrame:
    """District, province, ethnic group (Kinh / minority), sex and poverty status at as_of."""
    parts = tables.participants.set_index("participant_id")
    villages = tables.villages.set_index("village_id")
    pid = keys["participant_id"].to_numpy()
    village = parts["village_id"].reindex(pid).to_numpy()
    eth = parts["ethnicity"].reindex(pid).astype(str).to_numpy()
    out = pd.DataFrame(
        {
            "district": villages["district"].reindex(village).astype(str).to_numpy(),
            "province": villages["province"].reindex(village).astype(str).to_numpy(),
            "ethnic_group": np.where(eth == "Kinh", "Kinh", "minority"),
            "sex": parts["sex"].reindex(pid).astype(str).to_numpy(),
            "household_id": parts["household_id"].reindex(pid).to_numpy(),
            "as_of": pd.to_datetime(keys["as_of"]).to_numpy(),
        },
        index=keys.index,
    )
    out["poverty_status"] = _poverty_at(tables.poverty, out[["household_id", "as_of"]])
    return out.drop(columns=["household_id", "as_of"])


def _poverty_at(poverty: pd.DataFrame, q: pd.DataFrame) -> np.ndarray:
    """Status in force on as_of (valid_from <= as_of <= valid_to), 'none' when no spell."""
    if poverty.empty:
        return np.full(len(q), "none", dtype=object)
    q = q.assign(_row=np.arange(len(q))).sort_values("as_of", kind="stable")
    spells = poverty[["household_id", "status", "valid_from", "valid_to"]].sort_values("valid_from", kind="stable")
    spells = spells.astype({"household_id": q["household_id"].dtype})
    m = pd.merge_asof(q, spells, left_on="as_of", right_on="valid_from", by="household_id", direction="backward")
    ended = m["valid_to"].notna() & (m["valid_to"] < m["as_of"])
    status = m["status"].where(~ended & m["status"].notna(), "none").astype(str).to_numpy()
    out = np.empty(len(q), dtype=object)
    out[m["_row"].to_numpy()] = status
    return out


def oracle_probability(truth_installments: pd.DataFrame | None, frame: pd.DataFrame) -> pd.Series:
    """The simulator's p_lapse of each row's label installment (NaN where unknown)."""
    if truth_installments is None or "label_period_start" not in frame:
        return pd.Series(np.nan, index=frame.index, name="oracle_p")
    t = truth_installments[["participant_id", "period_start", "p_lapse"]]
    left = pd.DataFrame(
        {"participant_id": frame["participant_id"].to_numpy(), "period_start": pd.to_datetime(frame["label_period_start"]).to_numpy()}
    )
    t = t.astype({"participant_id": left["participant_id"].dtype, "period_start": left["period_start"].dtype})
    m = left.merge(t, on=["participant_id", "period_start"], how="left", validate="many_to_one")
    return pd.Series(m["p_lapse"].to_numpy(dtype=float), index=frame.index, name="oracle_p")


def build_context(
    tables: Tables, frame: pd.DataFrame, horizon_days: int, truth: dict | None = None, target: str = "lapse"
) -> pd.DataFrame:
    """Everything beside the features a backtest needs, aligned with `frame`'s index."""
    keys = frame[list(KEY_COLUMNS)]
    ctx = pd.concat([keys, group_columns(tables, keys), history_summary(tables, keys)], axis=1)
    # Paying or behind now (in arrears) at as_of: a breakdown every report shows, since
    # members in arrears are easier to rank than the paying ones.
    if "behind_on_payments" in frame:
        ctx["status"] = np.where(frame["behind_on_payments"].to_numpy() > 0, "in_arrears", "paying")
    as_of = pd.to_datetime(frame["as_of"])
    fallback = as_of + pd.Timedelta(days=horizon_days)
    if "label_due_on" in frame and target == "lapse":
        ctx["label_known_on"] = pd.to_datetime(frame["label_due_on"]).fillna(fallback)
    else:
        ctx["label_known_on"] = fallback
    if target == "lapse" and truth is not None and truth.get("installments") is not None:
        ctx["oracle_p"] = oracle_probability(truth["installments"], frame)
    elif target == "withdraw_12m" and truth is not None and truth.get("withdraw_oracle") is not None:
        # dropout.simulate.oracle.withdraw_oracle: participant_id, as_of, oracle_p
        o = truth["withdraw_oracle"]
        m = keys.merge(o.astype({"participant_id": keys["participant_id"].dtype}), on=list(KEY_COLUMNS),
                       how="left", validate="many_to_one")
        ctx["oracle_p"] = m["oracle_p"].to_numpy(dtype=float)
    return ctx


def read_truth(folder: str | Path) -> dict | None:
    """The simulator's truth/ tables of a data folder, or None when the folder has none."""
    p = Path(folder) / "truth" / "installments.parquet"
    if not p.exists():
        return None
    return {"installments": pd.read_parquet(p, columns=["participant_id", "period_start", "due_on", "p_lapse"])}
