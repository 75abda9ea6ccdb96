"""The `dropout` command: a thin shell over the library; each stage adds its commands.

Every module in `dropout.commands` defines `register(app)`; no logic lives here.
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
    importlib.import_module(f"dropout.commands.{_module.name}").register(app)


if __name__ == "__main__":
    app()
