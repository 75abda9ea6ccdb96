"""`bentoml build` packs the service: the library, its templates and static files, the
reference data, and the API description; no model (it is loaded at start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_bentoml_build_packs_what_the_service_needs(tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"}
    bentoml = Path(sys.executable).with_name("bentoml")
    done = subprocess.run([str(bentoml), "build", "-f", "service/bentofile.yaml", "."], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (bento,) = [p for p in (tmp_path / "bentoml" / "bentos" / "dropout-risk").iterdir() if p.name != "latest"]
    src = bento / "src"
    for path in ("service/service.py", "dropout/score/core.py", "dropout/web/templates/commune.html",
                 "dropout/web/static/style.css", "features/catalog.yaml", "features/subsidy_policies.csv"):
        assert (src / path).exists(), path
    assert not list(bento.rglob("*.pkl")) and not list(bento.rglob("*.pickle"))
    spec = yaml.safe_load((bento / "apis" / "openapi.yaml").read_text(encoding="utf-8"))
    assert {"/score", "/score_ids", "/ranked", "/model"} <= set(spec["paths"])
