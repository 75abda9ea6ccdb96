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
    https_only: bool = typer.Option(None, "--https-only/--plain-http",
                                    help="Session cookie Secure always / never [default: Secure except on "
                                         "plain http from loopback]."),
    access_log: bool = typer.Option(True, help="Log each request line (paths carry no personal data)."),
) -> None:
    """Serve the officers' pages: district overview, commune lists, participants, visit plans."""
    import uvicorn

    from dropout.web import WebSettings, create_app

    overrides = {} if https_only is None else {"https_only": https_only}
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
    console.print(cookie_notice(settings.https_only), highlight=False)
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info", proxy_headers=False)


def cookie_notice(https_only: bool | None) -> str:
    """What the start-up says about the session cookie's `Secure` flag."""
    if https_only is None:
        return ("session cookie: Secure, except on plain http from loopback (127.0.0.1/::1) where it is "
                "sent without; put TLS in front for any other client")
    return "session cookie: Secure" if https_only else "session cookie: NOT Secure (--plain-http / DROPOUT_WEB_HTTPS_ONLY=0)"


def register(app: typer.Typer) -> None:
    app.command("web")(guarded(web))
