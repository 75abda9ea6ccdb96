"""Fresh lists without re-scoring: payments from a newer export, merged into the store.

An office scores before a deadline; people keep paying after. `merge_payments(url,
tables)` (what `dropout refresh` calls) copies, from a newer export, every payment of a
scored person received after their scoring day into the `payments` table; the pages
then show "paid on ..." and take paid people out of the visit plan. Scores are not
touched: a refresh changes who still needs a visit, not anyone's risk.

Idempotent: a payment is keyed by (participant_id, due_on); merging the same export
twice, or an older one after a newer, leaves one row per installment (the newest export
wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pandas as pd
import sqlalchemy as sa

from dropout.errors import InputError
from dropout.schema import Tables
from dropout.store.engine import engine_for
from dropout.store.tables import metadata, payments, refreshes, runs, scores


@dataclass(frozen=True)
class PaymentsMerge:
    extracted_on: pd.Timestamp
    scored: int  # people in the store's finished runs
    payments: int  # payments after scoring merged
    people_paid: int  # scored people whose installment in the window is now paid

    def summary(self) -> str:
        return (f"payments up to {self.extracted_on.date()}: {self.payments} received after scoring merged; "
                f"{self.people_paid} of {self.scored} scored people have now paid the installment they were "
                "scored for")


def _scored(conn) -> pd.DataFrame:
    """participant_id, due_on and the scoring day of every person in a finished run."""
    rows = conn.execute(
        sa.select(scores.c.participant_id, scores.c.due_on, runs.c.as_of)
        .join(runs, runs.c.run_id == scores.c.run_id)
        .where(runs.c.status == "finished")
    ).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["participant_id", "due_on", "as_of"])
    df["as_of"] = pd.to_datetime(df["as_of"])
    df["due_on"] = pd.to_datetime(df["due_on"])
    # A person scored by several runs: the earliest scoring day counts (later runs saw more).
    return df.sort_values("as_of").drop_duplicates("participant_id").reset_index(drop=True)


def merge_payments(store_url: str, tables: Tables, data_dir: str | None = None) -> PaymentsMerge:
    """Merge the payments of scored people received after their scoring day.

    Raises:
        InputError: the store has no finished scoring run (nothing to refresh).
    """
    engine = engine_for(store_url)
    metadata.create_all(engine, tables=[payments, refreshes], checkfirst=True)
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("runs"):
            raise InputError("dropout refresh: the store has no scoring run yet; run dropout score first")
        scored = _scored(conn)
    if scored.empty:
        raise InputError("dropout refresh: the store has no finished scoring run; run dropout score first")
    inst = tables.installments
    paid = inst[inst["paid_on"].notna()][["participant_id", "due_on", "paid_on", "amount_paid"]]
    paid = paid.merge(scored[["participant_id", "as_of"]], on="participant_id", how="inner")
    paid = paid[paid["paid_on"] > paid["as_of"]]
    extracted = pd.Timestamp(tables.extracted_on).normalize()
    rows = [
        {"participant_id": int(r.participant_id), "due_on": r.due_on.date(), "paid_on": r.paid_on.date(),
         "amount_paid": None if pd.isna(r.amount_paid) else int(r.amount_paid), "extracted_on": extracted.date()}
        for r in paid.itertuples(index=False)
    ]
    with engine.begin() as conn:
        if rows:
            keys = {(r["participant_id"], r["due_on"]) for r in rows}
            pids = sorted({k[0] for k in keys})
            for start in range(0, len(pids), 500):  # one statement per chunk of people
                chunk = pids[start:start + 500]
                existing = conn.execute(
                    sa.select(payments.c.participant_id, payments.c.due_on, payments.c.extracted_on)
                    .where(payments.c.participant_id.in_(chunk))
                ).all()
                for pid, due, seen in existing:
                    if (pid, due) in keys and seen <= extracted.date():
                        conn.execute(payments.delete().where(
                            (payments.c.participant_id == pid) & (payments.c.due_on == due)))
                    elif (pid, due) in keys:  # a newer export already holds it
                        keys.discard((pid, due))
            rows = [r for r in rows if (r["participant_id"], r["due_on"]) in keys]
            if rows:
                conn.execute(payments.insert(), rows)
        conn.execute(refreshes.insert().values(extracted_on=extracted.date(), data_dir=data_dir,
                                               payments=len(rows), refreshed_at=datetime.now(timezone.utc)))
    now_paid = paid.merge(scored[["participant_id", "due_on"]], on=["participant_id", "due_on"])
    return PaymentsMerge(extracted, scored=len(scored), payments=len(rows),
                         people_paid=int(now_paid["participant_id"].nunique()))


def paid_after_scoring(store_url: str) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """Payments merged by refreshes (participant_id, due_on, paid_on, amount_paid) and the
    extraction day of the newest refresh (None when there was none)."""
    engine = engine_for(store_url)
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("payments"):
            return pd.DataFrame(columns=["participant_id", "due_on", "paid_on", "amount_paid"]), None
        rows = conn.execute(sa.select(payments.c.participant_id, payments.c.due_on, payments.c.paid_on,
                                      payments.c.amount_paid)).all()
        latest = conn.execute(sa.select(sa.func.max(refreshes.c.extracted_on))).scalar()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["participant_id", "due_on", "paid_on", "amount_paid"])
    df["participant_id"] = df["participant_id"].astype("int64")
    for c in ("due_on", "paid_on"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    return df, (pd.Timestamp(latest) if latest is not None else None)


def payments_key(store_url: str) -> tuple:
    """What changes when a refresh merges payments: (refreshes, newest id)."""
    with engine_for(store_url).connect() as conn:
        if not sa.inspect(conn).has_table("refreshes"):
            return ()
        return tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(refreshes.c.id))).one())
