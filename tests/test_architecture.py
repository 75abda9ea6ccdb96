"""The package structure holds: no import circles, no import that points up the flow.

Every import counts, also those inside functions (an import moved into a function still
ties two modules together). The layers are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "dropout"

#: Lowest first; a module may import its own layer and the layers below.
LAYERS = [
    {"dropout", "errors", "paths", "strict", "maths", "progress", "provenance", "textsafe", "timeline", "rules", "score.output"},
    {"reference"},
    {"schema"},
    {"io", "excel"},
    {"schedule", "simulate"},
    {"features"},
    {"labels", "model", "evaluate", "effects"},
    {"registry", "store"},
    {"score", "recorded_visits"},
    {"plan", "whatif", "monitor"},
    {"train"},
    {"service", "web", "pipeline"},
    {"commands"},
    {"cli"},
]


def _unit(module: str) -> str:
    """The layered unit of a module: its top package, or score.output (the score row, a leaf)."""
    parts = module.split(".")
    if parts[1:3] == ["score", "output"]:
        return "score.output"
    return parts[1] if len(parts) > 1 else parts[0]


def _graph() -> dict[str, set[str]]:
    names = {}
    for p in ROOT.rglob("*.py"):
        names[".".join(("dropout",) + p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = p
    graph: dict[str, set[str]] = {}
    for name, p in names.items():
        deps = set()
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0 and n.module.startswith("dropout"):
                for a in n.names:
                    full = f"{n.module}.{a.name}"
                    deps.add(full if full in names else n.module)
            elif isinstance(n, ast.Import):
                deps |= {a.name for a in n.names if a.name.startswith("dropout")}
        graph[name] = {d for d in deps if d in names and d != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


GRAPH = _graph()


def test_no_import_circles():
    assert _circles(GRAPH) == []


def test_every_package_has_a_layer():
    layer_of = {u for layer in LAYERS for u in layer}
    assert {_unit(m) for m in GRAPH} - {"__init__"} <= layer_of | {"dropout"}


def test_no_import_points_up_the_layers():
    layer = {u: i for i, units in enumerate(LAYERS) for u in units}
    wrong = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps
                   if _unit(m) in layer and layer[_unit(d)] > layer[_unit(m)])
    assert wrong == []


@pytest.mark.parametrize("lower", ["store", "score", "service", "model", "registry"])
def test_serving_code_never_imports_training(lower):
    assert not [f"{m} -> {d}" for m, deps in GRAPH.items() if _unit(m) == lower
                for d in deps if _unit(d) == "train"]


def test_the_checker_sees_a_circle_and_an_upward_import():
    """The test would fail if the code had one (the checker is not blind)."""
    fake = {"dropout.a": {"dropout.b"}, "dropout.b": {"dropout.a"}, "dropout.c": set()}
    assert _circles(fake) == [["dropout.a", "dropout.b"]]
    layer = {u: i for i, units in enumerate(LAYERS) for u in units}
    assert layer[_unit("dropout.store.scores")] < layer[_unit("dropout.train.experiment")]
