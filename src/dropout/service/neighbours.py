"""The reference data's people as neighbours of the people a /score request sends.

The community features of a person count the other people of their village (how many
are in the cohort, how many lapsed in the last 6 months). A request sends only its own
people's records; the rest of each village is the reference data loaded at start-up.
`Neighbours` keeps the reference data's feature `Context` and answers, per as-of date,
each village's counts with the community family's own functions
(`dropout.features.community.person_flags` / `village_counts`), less the request's own
people (their records in the request replace the reference's). The features then equal
those of the whole reference village joined with the request's records, which is what
batch scoring computes.

Counts are computed once per as-of date and kept for the last `CACHED_DATES` dates (two
bytes per reference person and date: 16 MB for a national reference of 2 million).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from dropout.features import community
from dropout.features.context import Context
from dropout.schema import Tables
from dropout.timeline import AsOf, entity_index

CACHED_DATES = 4


class Neighbours:
    """Village counts of the reference data's people, per as-of date."""

    def __init__(self, tables: Tables):
        self.context = Context(tables)
        self._by_day: OrderedDict[int, tuple[np.ndarray, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def _counts(self, asof: AsOf) -> tuple[np.ndarray, ...]:
        """(counted, lapsed) per reference person and (counted, lapsed) per reference village."""
        day = int(asof.day)
        with self._lock:
            hit = self._by_day.get(day)
            if hit is not None:
                self._by_day.move_to_end(day)
                return hit
            ctx = self.context
            flags = community.person_flags(ctx, asof)
            size, lapsed = community.village_counts(ctx, asof, flags)
            ctx.forget()
            counted, person_lapsed = flags
            hit = (counted.astype(bool), person_lapsed.astype(np.int8), size.astype(np.int64),
                   np.asarray(lapsed, dtype=np.float64))
            self._by_day[day] = hit
            if len(self._by_day) > CACHED_DATES:
                self._by_day.popitem(last=False)
            return hit

    def outside(self, participant_ids: np.ndarray):
        """`Context.outside` for a request whose own people are `participant_ids`."""
        ids = np.asarray(participant_ids, dtype=np.int64)

        def counts(asof: AsOf, village_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            person_counted, person_lapsed, size, lapsed = self._counts(asof)
            ctx = self.context
            at = entity_index(np.asarray(village_ids), ctx.village_ids)
            known = at >= 0
            out_size = np.where(known, size[np.maximum(at, 0)], 0).astype(np.int64)
            out_lapsed = np.where(known, lapsed[np.maximum(at, 0)], 0.0)
            # The request's own people: their records in the request replace the reference's.
            mine = entity_index(ids, ctx.participant_id)
            mine = mine[mine >= 0]
            mine = mine[person_counted[mine]]
            if len(mine):
                where = entity_index(ctx.village_ids[ctx.village_idx[mine]], np.asarray(village_ids))
                hit = where >= 0
                np.subtract.at(out_size, where[hit], 1)
                np.subtract.at(out_lapsed, where[hit], person_lapsed[mine][hit])
            return out_size, out_lapsed

        return counts
