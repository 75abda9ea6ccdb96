"""`dropout web`: the officers' web pages on their own, under uvicorn.

`dropout serve` mounts the same app (`dropout.web.create_app`) under /web of the risk
service, configured from the same environment variables (DROPOUT_STORE_URL,
DROPOUT_DATA_DIR, DROPOUT_PLAN_PATH, DROPOUT_PLAN_CAPACITY, DROPOUT_WEB_SECRET(_FILE),
DROPOUT_WEB_HTTPS_ONLY; DROPOUT_WEB_ENABLED=0 leaves it out), behind the same log-ins.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console


def web(
    data: Path = typer.Option(None, help="Folder of raw tables (participant records, villages, disasters)."),
    store: str = typer.Option(None, help="Score store URL (default: $DROPOUT_STORE_URL or sqlite:///out/scores.db)."),
    plan: Path = typer.Option(None, help="A visit plan written by `dropout plan` (plan.parquet or its folder)."),
    capacity: str = typer.Option(None, help="Plan visits in-process with these officer-hours (e.g. '30') when no --plan."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8080, help="Port."),
    https_only: bool = typer.Option(False, "--https-only", help="Mark the session cookie Secure (behind TLS)."),
    access_log: bool = typer.Option(True, help="Log each request line (paths carry no personal data)."),
) -> None:
    """Serve the officers' pages: district overview, commune lists, participants, visit plans."""
    import uvicorn

    from dropout.web import WebSettings, create_app

    overrides = {"https_only": https_only}
    if data is not None:
        overrides["data_dir"] = data
    if store is not None:
        overrides["store_url"] = store
    if plan is not None:
        overrides["plan_path"] = plan
    if capacity is not None:
        overrides["plan_capacity"] = capacity
    settings = WebSettings.from_env(**overrides)
    app = create_app(settings, preload=True)
    console.print(f"officers' pages on http://{host}:{port}/  (accounts: dropout users add --help)")
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info", proxy_headers=False)


def register(app: typer.Typer) -> None:
    app.command("web")(guarded(web))
