"""Loading registered versions (checked against their digest).

MLflow's `models:/NAME@alias` URIs are resolved against the store asked for, never
./mlflow.db (see tracking.mlflow_uris).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


from dropout.model.gbm import MLFLOW_MODEL_FILE, MODEL_FILE, DropoutModel
from dropout.registry.gate import CHAMPION
from dropout.registry.tracking import RegistryError, client, mlflow_uris, resolve_tracking_uri


def model_uri(name_or_uri: str, alias: str = CHAMPION) -> str:
    if "://" in name_or_uri or name_or_uri.startswith(("models:/", "runs:/")):
        return name_or_uri
    return f"models:/{name_or_uri}@{alias}"


def load_model(name_or_uri: str, alias: str = CHAMPION, tracking_uri: str | None = None,
               dst_path: str | os.PathLike | None = None) -> DropoutModel:
    """Load a DropoutModel from the registry (`NAME` + alias, or any MLflow model URI) or a folder.

    The sha256 of the LightGBM text file is checked against the metadata written at
    training time (and against the version's tag when loading by name).
    """
    if os.path.isdir(str(name_or_uri)):
        return DropoutModel.load(name_or_uri)
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = resolve_tracking_uri(tracking_uri)
    target = model_uri(name_or_uri, alias)
    dst = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="dropout-model-"))
    dst.mkdir(parents=True, exist_ok=True)
    try:
        with mlflow_uris(uri):
            local = mlflow.artifacts.download_artifacts(artifact_uri=target, dst_path=str(dst),
                                                        tracking_uri=uri, registry_uri=uri)
    except MlflowException as exc:
        raise RegistryError(f"cannot load {target} from {uri}: {exc.message if hasattr(exc, 'message') else exc}") from None
    model = DropoutModel.load(local)
    if "://" not in name_or_uri and not name_or_uri.startswith(("models:/", "runs:/")):
        mv = client(uri).get_model_version_by_alias(name_or_uri, alias)
        expected = mv.tags.get("model_sha256")
        if expected and expected != model.sha256:
            raise RegistryError(f"{target}: model sha256 {model.sha256[:12]} differs from the registered {expected[:12]}")
    return model


def model_file_sha256(folder: str | os.PathLike) -> str:
    """sha256 of the LightGBM text model file in a model folder (ours or MLflow's layout)."""
    folder = Path(folder)
    for n in (MODEL_FILE, MLFLOW_MODEL_FILE):
        if (folder / n).exists():
            return hashlib.sha256((folder / n).read_bytes()).hexdigest()
    raise FileNotFoundError(f"{folder}: no {MODEL_FILE} or {MLFLOW_MODEL_FILE}")
