"""Promotion by hand, audited, and the listing of versions by scope.

`promote(name, version, reason=...)` makes a version the champion of a scope (its own
by default). Promoting a version into another scope's champion needs `force=True`: a
model trained on one district's data is not another district's model. Every promotion
is recorded on the registered model as a tag `audit.<time>` holding who, when, why, the
scope and the old and new champions with their gate metrics; `history(name)` reads
them back, newest first. The automatic gate's decisions are recorded the same way
(registry/log.py tags each version's `gate_decision`).
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime, timezone

import pandas as pd

from dropout.registry.gate import CHAMPION
from dropout.registry.scope import Scope, parse_scope
from dropout.registry.tracking import RegistryError, client

AUDIT_PREFIX = "audit."


def _version(c, name: str, version) -> object:
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(f"model {name!r} has no version {version} in {c.tracking_uri}") from None


def version_scope(mv) -> Scope | None:
    """The scope a version was trained for (None for a version registered without one)."""
    text = mv.tags.get("scope") or ""
    return parse_scope(text) if text else None


def _gate_metrics(mv) -> dict[str, float]:
    return {k[5:]: float(v) for k, v in mv.tags.items() if k.startswith("gate.")}


def promote(name: str, version: str | int, reason: str, *, scope: str | Scope | None = None, force: bool = False,
            by: str | None = None, uri: str | None = None) -> dict:
    """Make `version` the champion of `scope` (default: its own); returns the audit record.

    Raises:
        RegistryError: unknown version, no reason given, or a cross-scope promotion without `force`.
    """
    if not reason or not str(reason).strip():
        raise RegistryError("a promotion needs a reason (--reason): it is kept in the model's history")
    c = client(uri)
    mv = _version(c, name, version)
    own = version_scope(mv)
    target = parse_scope(scope) if isinstance(scope, str) else (scope or own)
    if target is None:
        raise RegistryError(f"{name} v{version} was registered without a scope: give the scope to promote it into "
                            "(--scope district:NAME, province:NAME or national)")
    if own is not None and target != own and not force:
        raise RegistryError(f"{name} v{version} was trained for {own}, not {target}: promoting it across scopes "
                            "needs --force (a model of one place is not another place's model)")
    alias = target.alias(CHAMPION)
    try:
        previous = c.get_model_version_by_alias(name, alias)
    except Exception:  # MLflow raises for an unknown alias
        previous = None
    now = datetime.now(timezone.utc)
    record = {
        "when": now.isoformat(timespec="seconds"), "who": by or os.environ.get("DROPOUT_USER") or getpass.getuser(),
        "why": str(reason).strip(), "scope": str(target), "version": str(mv.version),
        "version_scope": str(own) if own else None, "forced": bool(force and own is not None and target != own),
        "previous_version": str(previous.version) if previous is not None else None,
        "metrics_new": _gate_metrics(mv), "metrics_old": _gate_metrics(previous) if previous is not None else {},
    }
    c.set_registered_model_alias(name, alias, str(mv.version))
    c.set_model_version_tag(name, str(mv.version), "gate_decision", f"{alias}: promoted by hand: {record['why']}")
    c.set_registered_model_tag(name, f"{AUDIT_PREFIX}{now.strftime('%Y%m%dT%H%M%S%f')}", json.dumps(record))
    return record


def history(name: str, uri: str | None = None) -> list[dict]:
    """Every recorded promotion of `name`, newest first."""
    from mlflow.exceptions import MlflowException

    c = client(uri)
    try:
        rm = c.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"no registered model {name!r} in {c.tracking_uri}") from None
    records = [json.loads(v) for k, v in sorted(rm.tags.items(), reverse=True) if k.startswith(AUDIT_PREFIX)]
    return records


def list_versions(name: str | None = None, uri: str | None = None) -> pd.DataFrame:
    """One row per registered version: name, version, scope, aliases, target, data
    fingerprint, training period, gate metric, when, run, model digest."""
    c = client(uri)
    filt = f"name = '{name}'" if name else ""
    aliases: dict[tuple[str, str], list[str]] = {}
    for rm in c.search_registered_models(filt):
        for alias, v in (rm.aliases or {}).items():
            aliases.setdefault((rm.name, str(v)), []).append(alias)
    rows = []
    for mv in c.search_model_versions(filt):
        gate = _gate_metrics(mv)
        rows.append({
            "name": mv.name,
            "version": int(mv.version),
            "scope": mv.tags.get("scope", "") or "(none)",
            "aliases": ",".join(sorted(aliases.get((mv.name, str(mv.version)), []))),
            "target": mv.tags.get("target", ""),
            "data": mv.tags.get("data_fingerprint", "")[:12],
            "period": mv.tags.get("period", ""),
            "gate": ", ".join(f"{k}={v:.4f}" for k, v in gate.items()),
            "created": pd.Timestamp(mv.creation_timestamp, unit="ms").strftime("%Y-%m-%d %H:%M"),
            "run_id": mv.run_id,
            "sha256": mv.tags.get("model_sha256", "")[:12],
        })
    columns = ["name", "version", "scope", "aliases", "target", "data", "period", "gate", "created", "run_id", "sha256"]
    df = pd.DataFrame(rows, columns=columns)
    return df.sort_values(["name", "version"]).reset_index(drop=True)
