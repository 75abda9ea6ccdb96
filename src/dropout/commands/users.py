"""`dropout users add/disable/list`: officers' accounts for the web pages."""

from __future__ import annotations

import sys

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console

users_app = typer.Typer(help="Officers' accounts of the web pages (stored in the score store).", no_args_is_help=True)


ENV_STORE = "DROPOUT_STORE_URL"  # dropout.web.settings.ENV_STORE (a test holds the two together)


def _store(store: str | None) -> str:
    from dropout.web.settings import WebSettings

    return store or WebSettings.from_env().store_url


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def add(
    username: str = typer.Argument(..., help="Log-in name: a-z, 0-9, '.', '_', '-'."),
    role: str = typer.Option("officer", help="officer (one district) or admin (all districts)."),
    district: str = typer.Option(None, help="The district an officer sees (as written in the data)."),
    store: str = typer.Option(None, help=f"Store URL (default: ${ENV_STORE} or the score store's default)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from one line of stdin."),
) -> None:
    """Create an account; the password is asked twice (never given on the command line)."""
    from dropout.web.accounts import add_user

    password = _read_password(password_stdin)
    user = add_user(_store(store), username, password, role, district)
    scope = "all districts" if user.is_admin else f"district {user.district}"
    console.print(f"added {user.username} ({user.role}, {scope})")


def disable(
    username: str = typer.Argument(...),
    store: str = typer.Option(None, help=f"Store URL (default: ${ENV_STORE} or the score store's default)."),
) -> None:
    """Disable an account: it can no longer log in, and its open sessions end."""
    from dropout.web.accounts import disable_user

    user = disable_user(_store(store), username)
    console.print(f"disabled {user.username}")


def list_(
    store: str = typer.Option(None, help=f"Store URL (default: ${ENV_STORE} or the score store's default)."),
) -> None:
    """List the accounts (never their password hashes)."""
    from rich.table import Table

    from dropout.web.accounts import list_users

    table = Table(title="accounts")
    for col in ("username", "role", "district", "active"):
        table.add_column(col)
    for u in list_users(_store(store)):
        table.add_row(u.username, u.role, u.district or "(all)", "yes" if u.active else "no")
    console.print(table)


def register(app: typer.Typer) -> None:
    users_app.command("add")(guarded(add))
    users_app.command("disable")(guarded(disable))
    users_app.command("list")(guarded(list_))
    app.add_typer(users_app, name="users")
