import numpy as np, pandas as pd
from dropout.score import score_participants
from dropout.features import build_features
from test_score_world import AS_OF, WINDOW, load_model, small_world
import pytest

@pytest.fixture(scope="module")
def model():
    return load_model()

@pytest.fixture(scope="module")
def pandas_scores(model):
    return score_participants(small_world(), AS_OF, WINDOW, model)

def test_dbg(model, pandas_scores):
    m = model; t = small_world()
    a = pandas_scores
    b = score_participants(t, AS_OF, WINDOW, m, engine="dask", chunk_size=1)
    for col in [c for c in a.columns if c.startswith("reason")]:
        bad = a.index[~((a[col] == b[col]) | (a[col].isna() & b[col].isna()))]
        print("BAD", col, bad.tolist())
    full = build_features(t, [AS_OF]).set_index("participant_id")
    bad = a.index[~a.reason_1_feature.eq(b.reason_1_feature)]
    for i in bad:
        pid = a.loc[i, "participant_id"]
        print(pid, a.loc[i, "reason_1_feature"], b.loc[i, "reason_1_feature"], a.loc[i, "risk"], b.loc[i, "risk"])
        X = full.loc[[pid], m.feature_names]
        c = m.contributions(X).iloc[0]
        print(c.sort_values(ascending=False).head(6).to_dict())
    import shutil, test_score_world
    if any(not a[c].equals(b[c]) for c in a.columns):
        shutil.copytree(test_score_world.model_folder(), "/tmp/sc/badmodel", dirs_exist_ok=True)
        print(m.sha256)
        assert False
