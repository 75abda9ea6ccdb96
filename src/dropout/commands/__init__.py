"""CLI commands, one module per stage; each defines `register(app: typer.Typer)`."""
