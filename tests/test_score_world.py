"""A small world for the scoring tests (helpers only, no tests here).

`tests/factories.random_tables` with its four villages put in four districts (the
commune "Hong Thai" then exists in two districts, as the contract allows), and a small
LightGBM model trained on it with the project's own feature and label code, saved as a
model folder once per test process.
"""

from __future__ import annotations

import functools
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from factories import random_tables  # noqa: E402

from dropout.io import write_tables  # noqa: E402
from dropout.schema import Tables  # noqa: E402

AS_OF = "2025-10-01"
WINDOW = 30
DISTRICTS = {"V1": "A Luoi", "V2": "Dakrong", "V3": "Nam Dong", "V4": "Tay Giang"}


@functools.lru_cache(maxsize=2)
def small_world(seed: int = 1, participants: int = 300) -> Tables:
    tables = random_tables(seed=seed, n_participants=participants)
    villages = tables.villages.copy()
    villages["district"] = villages["village_id"].map(DISTRICTS).astype("str")
    return tables.replace(villages=villages)


@functools.lru_cache(maxsize=1)
def model_folder() -> Path:
    """A DropoutModel trained on small_world(), saved in a folder that lives for the process."""
    from dropout.features import feature_names
    from dropout.labels import build_training_frame
    from dropout.model.gbm import DropoutModel

    tables = small_world()
    frame = build_training_frame(tables, pd.date_range("2022-01-01", "2025-08-01", freq="MS"), "lapse",
                                 horizon_days=60)
    names = feature_names()
    cut = pd.Timestamp("2025-01-01")
    train, val = frame[frame["as_of"] < cut], frame[frame["as_of"] >= cut]
    model = DropoutModel(
        {"num_leaves": 7, "min_data_in_leaf": 15, "learning_rate": 0.1, "verbosity": -1, "num_threads": 1,
         "seed": 1, "deterministic": True},
        num_boost_round=60, early_stopping_rounds=15, metadata={"target": "lapse", "horizon_days": 60},
    ).fit(train[names], train["label"], val[names], val["label"])
    folder = Path(tempfile.mkdtemp(prefix="dropout-score-model-")) / "model"
    model.save(folder)
    import atexit

    atexit.register(shutil.rmtree, folder.parent, True)
    return folder


def load_model():
    from dropout.model.gbm import DropoutModel

    return DropoutModel.load(model_folder())


def write_world(folder: Path) -> tuple[Path, Path]:
    """The small world's data folder and a copy of the model folder under `folder`."""
    data = write_tables(small_world(), folder / "data")
    model = folder / "model"
    shutil.copytree(model_folder(), model)
    return data, model
