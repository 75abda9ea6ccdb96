"""A model folder is wholly hashed: every file under one digest, checked at load;
non-finite or out-of-range calibrations, unlisted files, symlinks and broken files are
refused with a ModelInputError; one run id can never mix two calibrations."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from dropout.model.gbm import DIGEST_FILE, DropoutModel, ModelInputError, folder_digest
from dropout.registry.resolve import ModelNotFoundError, resolve_model
from dropout.store import make_run_id
from test_score_world import load_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "model"
    load_model().save(folder)
    return folder


def copy_of(saved, tmp_path):
    return shutil.copytree(saved, tmp_path / "model")


def rewrite(folder, name: str, data: bytes, *, reseal: bool = True) -> None:
    """Replace one file; with `reseal`, update digest.json too (a careful forger)."""
    (folder / name).write_bytes(data)
    if reseal:
        import hashlib

        manifest = json.loads((folder / DIGEST_FILE).read_text())
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
        manifest["digest"] = folder_digest(manifest["files"])
        (folder / DIGEST_FILE).write_text(json.dumps(manifest))


def test_the_digest_covers_every_file_and_is_stable(saved):
    model = DropoutModel.load(saved)
    manifest = json.loads((saved / DIGEST_FILE).read_text())
    assert set(manifest["files"]) == {p.name for p in saved.iterdir()} - {DIGEST_FILE}
    assert model.digest == manifest["digest"] == load_model().digest
    assert model.digest != model.sha256  # not only model.txt


def test_another_calibration_is_another_model_and_another_run_id(saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    cal = json.loads((folder / "calibration.json").read_text())
    cal["y"] = [min(1.0, v * 0.5) for v in cal["y"]] if cal["method"] == "isotonic" else cal["y"]
    if cal["method"] == "platt":
        cal["b"] = cal["b"] - 1.0
    rewrite(folder, "calibration.json", json.dumps(cal).encode(), reseal=False)
    with pytest.raises(ModelInputError, match="calibration.json"):
        DropoutModel.load(folder)
    rewrite(folder, "calibration.json", json.dumps(cal).encode())  # resealed: a different model
    other = DropoutModel.load(folder)
    original = DropoutModel.load(saved)
    assert other.sha256 == original.sha256  # the same model.txt ...
    assert other.digest != original.digest  # ... but not the same model
    ids = {make_run_id("2025-07-01", 30, m.digest, "data") for m in (original, other)}
    assert len(ids) == 2  # a resumed run can never mix the two calibrations
    assert resolve_model(str(folder)).sha256 == other.digest


@pytest.mark.parametrize("calibration", [
    {"method": "platt", "a": "Infinity", "b": 0.0},
    {"method": "platt", "a": float("inf"), "b": 0.0},
    {"method": "platt", "a": 1.0, "b": float("nan")},
    {"method": "platt", "a": -1.0, "b": 0.0},
    {"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 2.0]},
    {"method": "isotonic", "x": [0.0, "NaN"], "y": [0.0, 1.0]},
    {"method": "isotonic", "x": [], "y": []},
    {"method": "sigmoid"},
])
def test_non_finite_or_out_of_range_calibration_is_refused(saved, tmp_path, calibration):
    folder = copy_of(saved, tmp_path)
    rewrite(folder, "calibration.json", json.dumps(calibration).encode())
    with pytest.raises(ModelInputError, match="calibration"):
        DropoutModel.load(folder)
    with pytest.raises(ModelNotFoundError):
        resolve_model(str(folder))


def test_a_folder_without_a_digest_or_with_an_unlisted_file_is_refused(saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    (folder / "card.md").write_text("a card nobody hashed")
    with pytest.raises(ModelInputError, match="card.md"):
        DropoutModel.load(folder)
    (folder / "card.md").unlink()
    (folder / DIGEST_FILE).unlink()
    with pytest.raises(ModelInputError, match="no digest.json"):
        DropoutModel.load(folder)


def test_a_symlinked_model_file_is_refused(saved, tmp_path):
    folder = copy_of(saved, tmp_path)
    target = tmp_path / "elsewhere.json"
    shutil.move(folder / "features.json", target)
    os.symlink(target, folder / "features.json")
    with pytest.raises(ModelInputError, match="symlink"):
        DropoutModel.load(folder)


@pytest.mark.parametrize("broken", [
    b"",  # empty
    b"tree\nversion=v4\n",  # truncated
    b"\x00\xff" * 100,  # binary
    b"tree\nversion=v4\nnum_class=1\nmax_feature_idx=2\n" + b"Tree=0\n" * 10 + b"end of trees\n",
])
def test_a_broken_model_file_is_a_clean_refusal_even_when_resealed(saved, tmp_path, broken):
    folder = copy_of(saved, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta.pop("model_sha256")  # the report's case: metadata without model_sha256
    rewrite(folder, "metadata.json", json.dumps(meta).encode())
    rewrite(folder, "model.txt", broken)
    with pytest.raises(ModelInputError):
        DropoutModel.load(folder)


@pytest.mark.parametrize("name,data", [
    ("features.json", b"[" * 100_000 + b"]" * 100_000),  # deep nesting: RecursionError
    ("metadata.json", b"not json"),
    ("features.json", b'{"features": "abc"}'),
    ("digest.json", b"{}"),
])
def test_broken_json_parts_are_clean_refusals(saved, tmp_path, name, data):
    folder = copy_of(saved, tmp_path)
    rewrite(folder, name, data, reseal=name != "digest.json")
    with pytest.raises(ModelInputError):
        DropoutModel.load(folder)
