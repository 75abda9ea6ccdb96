"""The raw tables as sorted arrays, built once per feature build and shared by every family.

`Context` holds the contribution schedule (`dropout.schedule.Schedule`: participants, the
installment ledger, the next installment, the cohort), the participants' and villages'
attributes the families read, and two caches a family keeps its own derived quantities
in: `once` (independent of the as-of date) and `cached` (for the as-of date being built;
`forget` drops them when the build moves to the next date).

`outside`, when given, counts the people of the tables' villages that the tables do not
hold (`outside(asof, village_ids) -> (counted, lapsed)`, one number per village, see
`community.py`): the service scores one person's records against neighbours prepared
at start-up.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from dropout.schedule import Schedule
from dropout.schema import Tables
from dropout.timeline import AsOf, entity_index, require_columns, str_values

NEEDED_COLUMNS = {
    "villages": ["village_id", "commune", "province", "travel_minutes", "ethnic_language"],
    "participants": ["participant_id", "household_id", "village_id", "birth_year", "sex", "ethnicity",
                     "occupation", "enrolled_on", "payment_mode", "income_base"],
    "installments": ["participant_id", "period_start", "due_on", "months_covered", "income_base",
                     "amount_due", "paid_on"],
    "poverty": ["household_id", "status", "valid_from", "valid_to"],
    "disasters": ["commune", "started_on", "severity"],
    "subsidy_policies": ["province", "group", "valid_from", "valid_to", "rate"],
    "visits": ["participant_id", "village_id", "visited_on", "kind", "language"],
    "withdrawals": ["participant_id", "claimed_on"],
}


class Context:
    """Sorted arrays of one `Tables` bundle, built once per `build_features` call."""

    def __init__(self, tables: Tables, outside=None):
        for table, cols in NEEDED_COLUMNS.items():
            require_columns(getattr(tables, table), table, cols)
        self.tables = tables
        self.schedule = Schedule(tables)
        self.rules = self.schedule.rules
        sort = self.schedule.sort
        parts = tables.participants
        self.participant_id = self.schedule.participant_id
        self.n = self.schedule.n
        self.enrolled = self.schedule.enrolled
        self.birth_year = sort(parts["birth_year"].to_numpy(np.int64))
        self.female = sort(str_values(parts["sex"])) == "F"
        self.household_id = sort(parts["household_id"].to_numpy(np.int64))
        self.ethnicity = sort(str_values(parts["ethnicity"]))
        self.occupation = sort(str_values(parts["occupation"]))

        villages = tables.villages
        if not villages["village_id"].is_monotonic_increasing:
            villages = villages.sort_values("village_id", kind="stable")
        self.village_ids = str_values(villages["village_id"])
        self.village_idx = entity_index(sort(str_values(parts["village_id"])), self.village_ids)
        self.n_villages = len(self.village_ids)
        self.village_travel_minutes = villages["travel_minutes"].to_numpy(np.float64)
        self.village_language = str_values(villages["ethnic_language"])
        communes, self.village_commune_idx = np.unique(str_values(villages["commune"]), return_inverse=True)
        self.commune_names = communes
        provinces, self.village_province_idx = np.unique(str_values(villages["province"]), return_inverse=True)
        self.province_names = provinces
        self.outside = outside
        self._cache: dict = {}
        self._static: dict = {}

    def cohort(self, asof: AsOf) -> np.ndarray:
        """Enrolled on or before as_of and not withdrawn by as_of."""
        return self.schedule.cohort(asof)

    @cached_property
    def participant_commune(self) -> np.ndarray:
        return np.where(self.village_idx >= 0, self.village_commune_idx[np.maximum(self.village_idx, 0)], -1)

    @cached_property
    def participant_province(self) -> np.ndarray:
        return np.where(self.village_idx >= 0, self.village_province_idx[np.maximum(self.village_idx, 0)], -1)

    def once(self, name: str, factory):
        """An as-of-independent value computed on first use and kept for this Context."""
        if name not in self._static:
            self._static[name] = factory()
        return self._static[name]

    def cached(self, name: str, asof: AsOf, compute):
        """A value of the as-of date being built, computed on first use (`forget` drops it)."""
        key = (name, int(asof.day))
        if key not in self._cache:
            self._cache[key] = compute(asof)
        return self._cache[key]

    def forget(self) -> None:
        """Drop the per-as-of caches (called when moving to the next as-of date)."""
        self._cache.clear()
        self.schedule.forget()
