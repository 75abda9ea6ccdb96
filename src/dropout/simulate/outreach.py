"""Officers' home visits and evening village sessions: an imperfect targeting rule and a true effect.

Mechanisms (preset `outreach` section):
- Capacity: each district makes `home_visits_per_1000` home visits and
  `sessions_per_1000` evening sessions a month per 1,000 enrolled participants
  (stochastically rounded): a mountain district office has a handful of officers who
  also do everything else.
- Home-visit targeting, what an officer would do without a model: among people with an
  installment due this month or next, those suspended, late last time or new, score
  = weights x (suspended, lapsed last time, due soon, new, hours away) + noise; the
  top of each district are visited. Nearer villages are visited more (negative weight
  on hours away): the imperfection a ranked list can fix.
- Evening sessions go to the villages of a district with the highest recent lapse rate,
  nearer ones first, with noise.
- True effect (truth/visits.true_effect): the change in the monthly lapse log-odds of
  the person's next installment decision. Home visit: -home_effect x responsiveness;
  session: -session_effect x responsiveness for everyone enrolled in the village (its
  true_effect is the village mean). Responsiveness is latent and heterogeneous (gamma
  with mean 1, `unresponsive_share` at 0). Speaking Vietnamese to an ethnic-minority
  participant scales the effect by `wrong_language_factor`: officers bring a village
  collaborator who speaks the local language only some of the time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.simulate.geography import VIETNAMESE, Geography
from dropout.simulate.config import OutreachConfig
from dropout.simulate.payments import ACTIVE, SUSPENDED, PaymentState
from dropout.simulate.population import Population

HOME, SESSION = 0, 1
KINDS = ("home_visit", "evening_session")
NO_NOTE = "-"


def _stochastic_round(x: np.ndarray, rng) -> np.ndarray:
    return np.floor(x + rng.random(len(x))).astype(np.int64)


def _top_per_group(group: np.ndarray, score: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """Positions of the `quota[g]` highest scores within each group g.

    Only the best 8 x sum(quota) scores overall are sorted: a district whose quota is not
    filled from them has so few strong candidates that an officer would not find more.
    """
    if len(group) == 0:
        return np.empty(0, dtype=np.int64)
    keep = np.arange(len(score))
    short = 8 * int(quota.sum())
    if len(score) > short > 0:
        cut = np.partition(score, len(score) - short)[len(score) - short]
        keep = np.flatnonzero(score >= cut)
    order = keep[np.lexsort((-score[keep], group[keep]))]
    g_sorted = group[order]
    first = np.searchsorted(g_sorted, g_sorted, side="left")
    rank = np.arange(len(order)) - first
    return order[rank < quota[g_sorted]]


class Outreach:
    """Draws each month's visits, adds their effect to the visited people's next decision."""

    def __init__(self, cfg: OutreachConfig, pop: Population, geo: Geography, rng: np.random.Generator):
        self.cfg = cfg
        self.rng = rng
        self.pop = pop
        self.n_districts = len(geo.districts)
        self.n_villages = geo.n_villages
        self.village_district = geo.village_district
        self.village_travel = geo.village_travel
        self.village_language = geo.village_language
        self.village_minority = geo.village_minority
        self.person_hours = geo.village_travel[pop.village] / 60.0
        ethnicity = pop.participants["ethnicity"].to_numpy(dtype=object)
        self.person_language = np.where(pop.minority, ethnicity, VIETNAMESE)
        notes = list(cfg.notes)
        w = np.array([cfg.notes[k] for k in notes], dtype=float)
        self.note_texts = np.array([None if k == NO_NOTE else k for k in notes], dtype=object)
        self.note_p = w / w.sum()
        self._rows: list[dict] = []
        # Set only by scenarios (scenarios/visit_response.py); None / 0 keep the preset's draws exactly.
        # session_turnout(reached, spoken_local) -> each villager's chance to attend; absentees gain nothing.
        self.session_turnout = None
        # share of each district's home-visit quota given to randomly chosen people due this month or next
        self.explore_share = 0.0
        self.scenario_rng: np.random.Generator | None = None

    def step(self, m: int, st: PaymentState, first_day: int, n_days: int, village_rate: np.ndarray) -> None:
        """This month's home visits and evening sessions."""
        cfg, rng, pop = self.cfg, self.rng, self.pop
        enrolled = (st.status == ACTIVE) | (st.status == SUSPENDED)
        per_district = np.bincount(pop.district[enrolled], minlength=self.n_districts)

        # home visits
        t = cfg.home_targeting
        suspended = st.status == SUSPENDED
        due_soon = (st.cur_due >= m) & (st.cur_due <= m + 1)
        new = (m - pop.enrol_month) < 12
        cand = np.flatnonzero(enrolled & (suspended | st.lapsed_last | due_soon | new))
        score = (
            t["suspended"] * suspended[cand]
            + t["lapsed_last"] * st.lapsed_last[cand]
            + t["due_soon"] * due_soon[cand]
            + t["new"] * new[cand]
            + t["hours_away"] * self.person_hours[cand]
            + t["noise"] * rng.gumbel(size=len(cand))
        )
        quota = _stochastic_round(cfg.home_visits_per_1000 * per_district / 1000.0, rng)
        if self.explore_share > 0:
            who = self._with_exploration(cand, score, quota, due_soon)
        else:
            who = cand[_top_per_group(pop.district[cand], score, quota)]
        local = pop.minority[who] & (rng.random(len(who)) < cfg.local_language_home)
        language = np.where(local | ~pop.minority[who], self.person_language[who], VIETNAMESE)
        factor = np.where(pop.minority[who] & ~local, cfg.wrong_language_factor, 1.0)
        effect = 0.0 - cfg.home_effect * pop.responsiveness[who] * factor  # 0.0 -: no negative zeros
        np.add.at(st.pending_visit, who, effect)
        note = self.note_texts[rng.choice(len(self.note_texts), size=len(who), p=self.note_p)]
        self._record(who, pop.village[who], first_day + rng.integers(0, n_days, len(who)), HOME, language, note, effect)

        # evening sessions
        s = cfg.session_targeting
        people = np.bincount(pop.village[enrolled], minlength=self.n_villages)
        villages = np.flatnonzero(people > 0)
        v_score = (
            s["lapse_rate"] * village_rate[villages]
            + s["near"] * (1.0 - np.clip(self.village_travel[villages] / 180.0, 0.0, 1.0))
            + s["noise"] * rng.normal(size=len(villages))
        )
        s_quota = _stochastic_round(cfg.sessions_per_1000 * per_district / 1000.0, rng)
        chosen = villages[_top_per_group(self.village_district[villages], v_score, s_quota)]
        if len(chosen) == 0:
            return
        local_v = self.village_minority[chosen] & (rng.random(len(chosen)) < cfg.local_language_session)
        v_language = np.where(local_v, self.village_language[chosen], VIETNAMESE)
        in_session = np.zeros(self.n_villages, dtype=bool)
        in_session[chosen] = True
        spoken_local = np.zeros(self.n_villages, dtype=bool)
        spoken_local[chosen] = local_v
        reached = np.flatnonzero(enrolled & in_session[pop.village])
        if self.session_turnout is not None:
            p_attend = self.session_turnout(reached, spoken_local[pop.village[reached]])
            reached = reached[self.scenario_rng.random(len(reached)) < p_attend]
        factor = np.where(pop.minority[reached] & ~spoken_local[pop.village[reached]], cfg.wrong_language_factor, 1.0)
        p_effect = 0.0 - cfg.session_effect * pop.responsiveness[reached] * factor
        np.add.at(st.pending_visit, reached, p_effect)
        mean_effect = np.bincount(pop.village[reached], weights=p_effect, minlength=self.n_villages)[chosen] / people[chosen]
        none = np.full(len(chosen), -1)
        notes = np.full(len(chosen), None, dtype=object)
        days = first_day + rng.integers(0, n_days, len(chosen))
        self._record(none, chosen, days, SESSION, v_language, notes, mean_effect)

    def _with_exploration(self, cand, score, quota, due_soon) -> np.ndarray:
        """The officers' top picks for (1 - explore_share) of each quota, the rest drawn at random
        among the candidates due this month or next that the officers did not pick."""
        district = self.pop.district
        rng = self.scenario_rng
        explore = np.minimum(_stochastic_round(self.explore_share * quota, rng), quota)
        picked = cand[_top_per_group(district[cand], score, quota - explore)]
        rest = cand[due_soon[cand] & ~np.isin(cand, picked)]
        drawn = rest[_top_per_group(district[rest], rng.random(len(rest)), explore)]
        return np.concatenate([picked, drawn])

    @property
    def n_blocks(self) -> int:
        """Blocks of visits recorded so far (a month adds up to two: home visits, sessions)."""
        return len(self._rows)

    def rewrite_notes(self, since: int, share: np.ndarray, note: str, rng: np.random.Generator) -> None:
        """Home visits recorded from block `since` on: the officer writes `note` with the visited person's `share`.

        For scenarios whose hidden state an officer sees at the door (scenarios/migration.py, rumour.py).
        """
        for block in self._rows[since:]:
            home = np.flatnonzero(block["kind"] == HOME)
            if len(home) == 0:
                continue
            p = share[block["person"][home]]
            hit = home[rng.random(len(home)) < p]
            block["note"][hit] = note

    def _record(self, person, village, day, kind, language, note, effect) -> None:
        if len(village):
            self._rows.append(
                {"person": np.asarray(person, dtype=np.int64), "village": village, "day": np.asarray(day, dtype=np.int64),
                 "kind": np.full(len(village), kind, dtype=np.int8), "language": np.asarray(language, dtype=object),
                 "note": np.asarray(note, dtype=object), "effect": np.asarray(effect, dtype=float)}
            )

    def visits(self, village_ids: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(visits table, truth/visits) with visit_id in order of the visit day."""
        cols = ("person", "village", "day", "kind", "language", "note", "effect")
        if self._rows:
            r = {c: np.concatenate([row[c] for row in self._rows]) for c in cols}
        else:
            r = {c: np.empty(0, dtype=object if c in ("language", "note") else np.int64) for c in cols}
        order = np.lexsort((r["kind"], r["day"]))
        r = {c: v[order] for c, v in r.items()}
        visit_id = np.arange(1, len(order) + 1, dtype=np.int64)
        pid = pd.array(np.where(r["person"] >= 0, self.pop.participant_id[np.maximum(r["person"], 0)], 0), dtype="Int64")
        pid[r["person"] < 0] = pd.NA
        visits = pd.DataFrame(
            {
                "visit_id": visit_id,
                "participant_id": pid,
                "village_id": pd.Series(village_ids[r["village"].astype(np.int64)], dtype="str"),
                "visited_on": r["day"].astype("datetime64[D]").astype("datetime64[ns]"),
                "kind": pd.Series(np.array(KINDS, dtype=object)[r["kind"].astype(np.int64)], dtype="str"),
                "language": pd.Series(r["language"], dtype="str"),
                "outcome_note": pd.Series(r["note"], dtype="str"),
            }
        )
        truth = pd.DataFrame({"visit_id": visit_id, "true_effect": r["effect"].astype(float)})
        return visits, truth
