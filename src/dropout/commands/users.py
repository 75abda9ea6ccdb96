"""`dropout users add/disable/list`: officers' accounts for the web pages."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console

users_app = typer.Typer(help="Officers' accounts of the web pages (stored in the score store).", no_args_is_help=True)


ENV_STORE = "DROPOUT_STORE_URL"  # dropout.web.settings.ENV_STORE (a test holds the two together)


def _store(store: str | None) -> str:
    from dropout.web.settings import WebSettings

    return store or WebSettings.from_env().store_url


def known_districts(store_url: str, data_dir: Path | None) -> list[str]:
    """The districts of the store's scores and of the data folder (when given)."""
    import sqlalchemy as sa

    from dropout.store import engine_for, scores

    names: set[str] = set()
    with engine_for(store_url).connect() as conn:
        names |= {d for d in conn.execute(sa.select(scores.c.district).distinct()).scalars() if d}
    if data_dir is not None:
        from dropout.io import load_tables

        names |= set(load_tables(data_dir).villages["district"].astype(str))
    return sorted(names)


def _norm(name: str) -> str:
    """Case-, space- and accent-insensitive key: 'A Lưới' -> 'a luoi'."""
    import unicodedata

    s = unicodedata.normalize("NFD", str(name)).replace("đ", "d").replace("Đ", "D")
    return " ".join("".join(ch for ch in s if not unicodedata.combining(ch)).lower().split())


def known_district(district: str, known: list[str]) -> str:
    """The district as the data spells it ('A Luoi' -> 'A Lưới'), or InputError naming the
    nearest spellings."""
    import difflib

    from dropout.errors import InputError

    if not known:
        raise InputError(f"--district {district!r}: no district is known yet: score a data folder into this store "
                         "first, or give --data")
    by_key = {_norm(k): k for k in known}
    if district in known:
        return district
    if _norm(district) in by_key:
        return by_key[_norm(district)]
    near = difflib.get_close_matches(_norm(district), list(by_key), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(by_key[k]) for k in near)}?" if near else f"; known: {', '.join(known)}"
    raise InputError(f"--district {district!r} is not a district of the data{hint}")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def add(
    username: str = typer.Argument(..., help="Log-in name: a-z, 0-9, '.', '_', '-'."),
    role: str = typer.Option("officer", help="officer (one district), admin (all districts) or province "
                             "(a provincial office: its province's subsidy what-if page)."),
    district: str = typer.Option(None, help="The district an officer sees (as written in the data; "
                                           "'A Luoi' finds 'A Lưới')."),
    province: str = typer.Option(None, help="The province a provincial office sees (with --role province)."),
    store: str = typer.Option(None, help=f"Store URL (default: ${ENV_STORE} or the score store's default)."),
    data: Path = typer.Option(None, help="Data folder whose districts are known (default: $DROPOUT_DATA_DIR)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from one line of stdin."),
) -> None:
    """Create an account; the password is asked twice (never given on the command line)."""
    from dropout.web.accounts import add_user
    from dropout.web.settings import WebSettings

    url = _store(store)
    if role == "officer" and district:
        data_dir = data if data is not None else WebSettings.from_env().data_dir
        district = known_district(district, known_districts(url, data_dir))
    if role == "province":
        from dropout.errors import InputError

        if district:
            raise InputError("a province account takes --province, not --district")
        district = province  # the accounts table keeps a provincial office's province in its district column
    elif province:
        from dropout.errors import InputError

        raise InputError("--province goes with --role province")
    password = _read_password(password_stdin)
    user = add_user(url, username, password, role, district)
    scope = ("all districts" if user.is_admin else f"province {user.province}" if user.province
             else f"district {user.district}")
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
