"""`dropout serve`: start the risk service (BentoML) on 127.0.0.1:3000 by default, with the
officers' web pages under /web when a store or data folder is given."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(3000, min=1, max=65535, help="Port to listen on."),
    model: str = typer.Option(None, help="Model folder, or registry alias / NAME@alias "
                                         "[default: $DROPOUT_MODEL or champion]."),
    data: Path = typer.Option(None, help="Reference data folder: villages, disasters, neighbours "
                                         "[default: $DROPOUT_DATA_DIR]."),
    store: str = typer.Option(None, help="Score store URL for /score_ids and /ranked "
                                         "[default: $DROPOUT_STORE_URL or sqlite:///out/scores.db]."),
    tracking_uri: str = typer.Option(None, help="MLflow tracking URI of the registry [default: the project's]."),
    workers: int = typer.Option(None, min=1, max=64, help="Worker processes [default: 2]."),
    threads: int = typer.Option(None, min=1, max=64, help="Threads per worker [default: 2]."),
    web: bool = typer.Option(None, "--web/--no-web", help="Serve the officers' pages under /web "
                                                          "[default: $DROPOUT_WEB_ENABLED, else on when "
                                                          "a store or data folder is given]."),
    new_key: bool = typer.Option(False, "--new-key", help="Print a new API key and its keys-file line, then exit."),
) -> None:
    """Serve /score, /score_ids, /ranked, /model and the health probes (API key required),
    and the officers' pages under /web (their own log-in: dropout users add).

    Keys: DROPOUT_API_KEYS (comma-separated) or DROPOUT_API_KEYS_FILE (hashed lines).
    Pages: DROPOUT_WEB_SECRET(_FILE), DROPOUT_PLAN_PATH, DROPOUT_PLAN_CAPACITY,
    DROPOUT_WEB_HTTPS_ONLY, as for `dropout web`. X-Forwarded-For is believed only from
    the proxies of DROPOUT_TRUSTED_PROXIES (default none).
    """
    from dropout.errors import ConfigError
    from dropout.paths import project_root
    from dropout.service.auth import load_keys, new_key as make_key, sha256_entry
    from dropout.service.settings import ServiceSettings

    if new_key:
        key = make_key()
        console.print("API key (give it to the client; it is shown only now):", highlight=False)
        print(key)
        console.print("line for the keys file (DROPOUT_API_KEYS_FILE):", highlight=False)
        print(sha256_entry(key))
        return
    env = dict(os.environ)
    if model is not None and Path(model).is_dir():
        model = str(Path(model).resolve())
    for name, value in (("DROPOUT_MODEL", model), ("DROPOUT_DATA_DIR", data), ("DROPOUT_STORE_URL", store),
                        ("DROPOUT_TRACKING_URI", tracking_uri), ("DROPOUT_SERVICE_WORKERS", workers),
                        ("DROPOUT_SERVICE_THREADS", threads)):
        if value is not None:
            env[name] = str(Path(value).resolve()) if isinstance(value, Path) else str(value)
    if web is not None:
        env["DROPOUT_WEB_ENABLED"] = "1" if web else "0"
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    try:
        settings = ServiceSettings.from_env(env)
        load_keys(env)
        if settings.web_enabled:  # a bad page secret fails here, not in every worker
            from dropout.web.settings import WebSettings

            WebSettings.from_env(env).resolve_secret(env)
        service_dir = project_root() / "service"
    except ValueError as err:  # an unreadable setting, e.g. a port that is not a number
        raise ConfigError(str(err)) from err
    if settings.data_dir is not None and not settings.data_dir.is_dir():
        raise ConfigError(f"reference data folder {settings.data_dir} does not exist")
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]listening on {host}: reachable from the network; put TLS in front[/yellow]")
    console.print(f"dropout risk service on http://{host}:{port} (model {settings.model})", highlight=False)
    if settings.web_enabled:
        from dropout.commands.web import cookie_notice

        console.print(f"officers' pages on http://{host}:{port}/web/  (accounts: dropout users add --help)",
                      highlight=False)
        console.print(cookie_notice(WebSettings.from_env(env).https_only), highlight=False)
    argv = [sys.executable, "-m", "bentoml", "serve", "service:RiskService", "--working-dir", str(service_dir),
            "--host", host, "--port", str(port)]
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)


def register(app: typer.Typer) -> None:
    app.command("serve")(guarded(serve))
