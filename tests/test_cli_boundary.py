"""The CLI's one error boundary: the same kind of error reads and exits the same in every command."""

import pytest
from typer.testing import CliRunner

from dropout.cli import app
from dropout.commands._boundary import EXIT_DATA, EXIT_USAGE
from dropout.errors import DropoutError

runner = CliRunner()


def _error_types():
    """Every error type the library defines (imported so that they are all registered)."""
    import dropout.commands._boundary  # noqa: F401
    import dropout.features.catalog  # noqa: F401
    import dropout.model.btyd  # noqa: F401
    import dropout.plan  # noqa: F401
    import dropout.recorded_visits  # noqa: F401
    import dropout.registry.resolve  # noqa: F401
    import dropout.registry.tracking  # noqa: F401
    import dropout.score  # noqa: F401
    import dropout.service.auth  # noqa: F401
    import dropout.service.core  # noqa: F401
    import dropout.service.records  # noqa: F401
    import dropout.store  # noqa: F401
    import dropout.web.accounts  # noqa: F401

    seen, todo = set(), [Exception]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return [t for t in seen if t.__module__.startswith("dropout.")]


def test_every_error_type_of_the_library_is_a_dropout_error():
    types = _error_types()
    assert len(types) > 10
    strays = [f"{t.__module__}.{t.__name__}" for t in types if not issubclass(t, DropoutError)]
    assert strays == []


@pytest.mark.parametrize("args", [
    ["validate", "{bad}"],
    ["features", "--data", "{bad}", "--as-of", "2025-01-01", "--out", "{tmp}/f.parquet"],
    ["score", "--data", "{bad}", "--as-of", "2025-01-01", "--out", "{tmp}/s", "--store", "sqlite:///{tmp}/s.db"],
])
def test_refused_data_exits_1_with_every_problem_in_every_command(tmp_path, args):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "villages.csv").write_text("village_id,commune\nV1,Hong Thai\n")
    argv = [a.format(bad=bad, tmp=tmp_path) for a in args]
    r = runner.invoke(app, argv)
    assert r.exit_code == EXIT_DATA, r.output
    assert f"{bad}: the data does not meet the contract" in " ".join(r.output.split())
    assert "villages.district" in r.output.replace(", ", ",") or "missing column" in r.output
    assert "participants" in r.output and "table missing" in r.output
    assert "nothing was written" in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


@pytest.mark.parametrize("args, words", [
    (["validate", "{tmp}/nowhere"], "does not exist"),
    (["features", "--data", "{tmp}/nowhere", "--as-of", "2025-01-01", "--out", "{tmp}/f.parquet"], "does not exist"),
    (["models", "promote", "dropout-lapse", "3", "--reason", "r", "--tracking-uri", "sqlite:///{tmp}/m.db"],
     "no version 3"),
    (["plan", "--run", "latest", "--capacity", "30", "--store", "sqlite:///{tmp}/s.db"], "no finished scoring run"),
    (["simulate", "--preset", "atlantis", "--out", "{tmp}/sim"], "atlantis"),
])
def test_other_refusals_exit_2_with_one_line(tmp_path, args, words):
    r = runner.invoke(app, [a.format(tmp=tmp_path) for a in args])
    assert r.exit_code == EXIT_USAGE, r.output
    assert "error:" in r.output and words in " ".join(r.output.split())
    assert "Traceback" not in r.output
