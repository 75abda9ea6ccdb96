"""The `dropout` command: a thin shell over the library; each stage adds its commands.

Every public module in `dropout.commands` defines `register(app)` and registers its
commands through the one error boundary (`commands/_boundary.py`); no logic lives here.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import dropout.commands

app = typer.Typer(
    name="dropout",
    help="Predict who is about to drop out of voluntary social insurance, why, and whom to visit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main() -> None:
    """dropout: risk lists, reasons and visit plans for voluntary social insurance."""


for _module in sorted(pkgutil.iter_modules(dropout.commands.__path__), key=lambda m: m.name):
    if not _module.name.startswith("_"):  # _boundary and other helpers register nothing
        importlib.import_module(f"dropout.commands.{_module.name}").register(app)


if __name__ == "__main__":
    app()
