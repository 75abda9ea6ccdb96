"""Every table of the store, on one `MetaData`: runs and scores, officers' accounts and
their log-in failures, the visits officers record. Nothing else defines a table.

- `runs`: one row per scoring run. The run id is derived from what determines the
  result (as-of, window, the model's digest over all its files, data fingerprint), so
  running the same job again finds its own row. `model_sha256` holds that digest.
- `run_chunks`: one marker per chunk of participants whose rows are committed.
- `scores`: one row per (run, participant), unique; its columns are the score row
  (`dropout.score.output`).
- `users`, `web_login_failures`, `web_sessions`: the officers' accounts, failed log-ins
  and open sessions (`dropout.web.accounts`).
- `visits`: visits recorded on the pages, with their outcome (`dropout.store.visits`).
- `payments`, `refreshes`: payments merged from a newer export without re-scoring
  (`dropout.store.payments`, `dropout refresh`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from dropout.score.output import SCORE_ROW, ScoreColumn

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("window_days", Integer, nullable=False),
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(50)),
    Column("model_sha256", String(64), nullable=False),
    Column("target", String(32)),  # what the model predicts (lapse, no_payment, withdraw_12m)
    Column("data_fingerprint", String(64), nullable=False),
    Column("data_dir", Text),  # the folder scored, when it came from one (plan finds it there)
    Column("engine", String(16)),
    Column("chunk_size", Integer),
    Column("n_chunks", Integer),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),  # running | finished | failed
    Column("n_expected", Integer, nullable=False),
    Column("n_scored", Integer, nullable=False, default=0),
    Column("n_population", Integer),  # the cohort at as-of: enrolled, not withdrawn
    Column("left_out", Text),  # JSON: reason -> people of the population not scored
    Column("message", Text),
    Column("code_version", String(80)),  # dropout's version (+ git commit) that scored it
    # A re-run of a finished run scores into a staging run (`<run_id>.next`) that names
    # here the run it will replace; finishing swaps the rows in one transaction.
    Column("publishes", String(64)),
)

run_chunks = Table(
    "run_chunks",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("chunk_no", Integer, nullable=False),
    Column("n_rows", Integer, nullable=False),
    Column("committed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("run_id", "chunk_no"),
    ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
)

def _sql_column(c: ScoreColumn) -> Column:
    """The SQL column of one column of the score row (score/output.py)."""
    if c.kind == "int":
        kind = BigInteger if c.name in ("participant_id", "amount_due") else Integer
    elif c.kind == "float":
        kind = Float
    elif c.kind == "date":
        kind = Date
    else:
        kind = Text if c.text or c.length is None else String(c.length)
    return Column(c.name, kind, nullable=c.nullable)


scores = Table(
    "scores",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("chunk_no", Integer, nullable=False),
    *(_sql_column(c) for c in SCORE_ROW),
    PrimaryKeyConstraint("run_id", "participant_id", name="scores_run_participant"),
    ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
    Index("scores_run_district_rank", "run_id", "district", "rank_in_district"),
    Index("scores_run_commune_rank", "run_id", "commune", "rank_in_commune"),
    Index("scores_participant", "participant_id"),
)

#: Columns of a scores DataFrame, in the order files and readers see them (the score row).
SCORE_COLUMNS = [c.name for c in SCORE_ROW]
DATE_COLUMNS = {c.name for c in SCORE_ROW if c.kind == "date"}


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("district", sa.String(128), nullable=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("session_version", sa.Integer, nullable=False, default=1),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
)

# One row per failed log-in; `key_hash` is a hash of username and client address so the
# table holds neither.
login_failures = sa.Table(
    "web_login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key_hash", sa.String(64), nullable=False, index=True),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
)

# Log-in sessions of the pages: the cookie carries only a random session id; the row is
# what makes it valid, so deleting it (log-out, password change, account disabled) ends
# the session everywhere, even for a copy of the cookie. `id_hash` is a sha256 of the id.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False, index=True),
    sa.Column("session_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

# Visits recorded on the pages.
visits = sa.Table(
    "visits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("participant_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("village_id", sa.String(64), nullable=False),
    sa.Column("district", sa.String(128), nullable=False, index=True),
    sa.Column("visited_on", sa.Date, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("language", sa.String(64), nullable=False),
    sa.Column("outcome_note", sa.Text, nullable=True),
    sa.Column("recorded_by", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    # What came of it (dropout.schema.VISIT_OUTCOMES): promised (to pay by promised_on),
    # paid (on the spot), refused (refusal_reason), not_home, moved_away.
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("promised_on", sa.Date, nullable=True),
    sa.Column("refusal_reason", sa.String(32), nullable=True),
)

# Payments of scored people received after their scoring day, merged from a newer export
# by `dropout refresh` (dropout.store.payments) without re-scoring: paid people leave the
# plan and the lists say "paid on ...".
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("participant_id", sa.BigInteger, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("amount_paid", sa.BigInteger, nullable=True),
    sa.Column("extracted_on", sa.Date, nullable=False),
    sa.PrimaryKeyConstraint("participant_id", "due_on", name="payments_participant_due"),
)

# One row per refresh: which export's payments the pages show.
refreshes = sa.Table(
    "refreshes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("extracted_on", sa.Date, nullable=False),
    sa.Column("data_dir", sa.Text, nullable=True),
    sa.Column("payments", sa.Integer, nullable=False),
    sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
)
