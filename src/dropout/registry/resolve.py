"""From what a user names (a model folder, `champion`, `NAME@alias`) to a loaded model.

The batch scorer, the service and the plan all resolve a model here, so a name means
the same everywhere and the messages say what was asked for, not which flag asked.
"""

from __future__ import annotations

import os
from pathlib import Path

from dropout.errors import DropoutError
from dropout.model import DropoutModel, ModelRef

DEFAULT_MODEL_NAME = "dropout-lapse"


class ModelNotFoundError(DropoutError, LookupError):
    """No model where the user pointed: no such folder, an unusable one, or an unknown alias."""


def resolve_model(spec: str, model_name: str = DEFAULT_MODEL_NAME, tracking_uri: str | None = None,
                  scope=None) -> ModelRef:
    """A model folder path, or a registry alias (`champion`, `NAME@alias`), loaded and described.

    Args:
        scope: the data's `registry.scope.Scope`: a bare role (`champion`, `challenger`)
            then means that scope's (`champion--district-a-luoi`); `NAME@alias` is taken
            as written.
    Raises:
        ModelNotFoundError: the folder does not exist or is not a model, or the alias is unknown.
    """
    spec = str(spec)
    path = Path(spec)
    if path.is_dir():
        try:
            model = DropoutModel.load(path)
        except (FileNotFoundError, ValueError) as err:
            raise ModelNotFoundError(f"model {spec}: not a usable model folder: {err}") from err
        meta = model.metadata
        name, version = _folder_identity(path, meta)
        return ModelRef(model, name, version, model.digest, str(path.resolve()))
    if "/" in spec or os.sep in spec or path.suffix:
        raise ModelNotFoundError(f"model {spec}: no such model folder")
    name, alias = spec.split("@", 1) if "@" in spec else (model_name, spec)
    if "@" not in spec and scope is not None and "--" not in alias:
        alias = scope.alias(alias)
    from dropout.registry.tracking import client, resolve_tracking_uri
    from dropout.registry.versions import load_model

    try:
        model = load_model(name, alias=alias, tracking_uri=tracking_uri)
        version = str(client(tracking_uri).get_model_version_by_alias(name, alias).version)
    except Exception as err:  # MLflow raises several types for an unknown name or alias
        where = f" for {scope}" if scope is not None and "@" not in spec else ""
        raise ModelNotFoundError(
            f"model {spec}: no registered model {name!r} with alias {alias!r}{where} in "
            f"{resolve_tracking_uri(tracking_uri)} ({type(err).__name__}: {err}); aliases there: "
            f"{_aliases(name, tracking_uri) or 'none'}. Train one on this data (`dropout train`), "
            "promote one into this scope (`dropout models promote ... --scope ... --force`), or give a model folder"
        ) from None
    return ModelRef(model, name, version, model.digest, f"models:/{name}@{alias}")


def _folder_identity(path: Path, meta: dict) -> tuple[str, str | None]:
    """A model folder's registry name and version: from its metadata, else from the
    registration.json training wrote beside it, else the folder's name and no version."""
    if meta.get("registered_name"):
        return str(meta["registered_name"]), meta.get("version")
    registration = path.parent / "registration.json"
    if registration.is_file() and not registration.is_symlink():
        import json

        try:
            reg = json.loads(registration.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            reg = {}
        if isinstance(reg, dict) and reg.get("model"):
            return str(reg["model"]), str(reg["version"]) if reg.get("version") is not None else None
    name = path.name if path.name != "model" else f"folder:{path.parent.name}"
    return name, None


def _aliases(name: str, tracking_uri: str | None) -> str:
    from dropout.registry.tracking import client

    try:
        return ", ".join(sorted(client(tracking_uri).get_registered_model(name).aliases or {}))
    except Exception:  # an unknown model: nothing to list
        return ""
