"""The main job end to end on embedded defaults: simulate a district, validate it,
train and backtest, score everyone due before the next deadlines, plan the visits and
write the report. `dropout demo` and `make demo` run this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dropout.io import load_tables


@dataclass
class DemoResult:
    out: Path
    data_dir: Path
    counts: dict[str, int]
    outputs: dict[str, Path] = field(default_factory=dict)


def run_demo(out: Path, preset: str = "a-luoi", participants: int | None = None, seed: int = 0,
             progress=None) -> DemoResult:
    """Simulate `preset` into out/data and validate it (later stages are added as they land)."""
    from dropout.simulate import simulate, write_simulation

    out = Path(out)
    data_dir = out / "data"
    result = simulate(preset, participants=participants, seed=seed, progress=progress)
    write_simulation(result, data_dir)
    tables = load_tables(data_dir)
    return DemoResult(out=out, data_dir=data_dir, counts=tables.counts())
