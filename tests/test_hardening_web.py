"""The pages' sessions and log-in under attack: a copied cookie after log-out, a password
change or a disabled account; forged X-Forwarded-For; Secure cookies; control characters."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from dropout.web import WebSettings, accounts, create_app
from test_web import PASSWORD, SECRET, client_for, data, login, token, users_db, web  # noqa: F401

DISTRICT = "/d/A%20L%C6%B0%E1%BB%9Bi"


def copied(app, original: TestClient) -> TestClient:
    """Another client holding a copy of `original`'s cookies (an attacker's copy)."""
    thief = client_for(app)
    for name, value in original.cookies.items():
        thief.cookies.set(name, value)
    return thief


def test_a_cookie_copied_before_logout_is_refused_after_it(web):
    import sqlalchemy as sa

    from dropout.store.engine import engine_for
    from dropout.store.tables import web_sessions

    app, url, _ = web
    c = login(app, "lan")
    with engine_for(url).connect() as conn:  # the store holds the session, by the id's hash only
        rows = conn.execute(sa.select(web_sessions)).all()
    assert len(rows) == 1 and len(rows[0].id_hash) == 64
    thief = copied(app, c)
    assert thief.get(DISTRICT).status_code == 200
    r = c.post("/logout", data={"csrf_token": token(c, DISTRICT)})
    assert r.status_code == 303
    assert thief.get(DISTRICT).status_code == 303  # sent to the log-in page
    assert thief.get(DISTRICT).headers["location"].startswith("/login")
    with engine_for(url).connect() as conn:
        assert conn.execute(sa.select(web_sessions)).all() == []


@pytest.mark.parametrize("end", ["password", "disable"])
def test_password_change_and_disable_end_every_copy_of_the_session(web, end):
    app, url, _ = web
    c = login(app, "lan")
    thief = copied(app, c)
    if end == "password":
        accounts.set_password(url, "lan", "another long password")
    else:
        accounts.disable_user(url, "lan")
    assert c.get(DISTRICT).status_code == 303
    assert thief.get(DISTRICT).status_code == 303


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(web):
    app, _, _ = web  # login_max_failures=3, no trusted proxies
    c = client_for(app)
    codes = []
    for i in range(6):
        r = c.post("/login", data={"csrf_token": token(c), "username": "lan", "password": "wrong guess"},
                   headers={"X-Forwarded-For": f"203.0.113.{i}"})
        codes.append(r.status_code)
    assert codes == [401, 401, 401, 429, 429, 429]


def test_forwarded_for_from_a_trusted_proxy_counts_per_client(tmp_path, data, users_db):
    import shutil

    shutil.copy(users_db, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path}/store.db"
    settings = WebSettings(store_url=url, secret=SECRET, login_max_failures=2, https_only=False,
                           trusted_proxies=("10.0.0.9",))
    app = create_app(settings, data)
    proxy = TestClient(app, base_url="http://testserver", follow_redirects=False, client=("10.0.0.9", 4000))

    def attempt(forwarded: str) -> int:
        return proxy.post("/login", data={"csrf_token": token(proxy), "username": "lan", "password": "wrong"},
                          headers={"X-Forwarded-For": forwarded}).status_code

    # behind the trusted proxy, each client has its own allowance; the proxy's last hop counts
    assert [attempt("198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.2") == 401
    assert attempt("1.2.3.4, 198.51.100.1") == 429  # a forged first hop does not help


def test_session_cookie_is_secure_by_default_except_plain_http_loopback(tmp_path, data, users_db):
    import shutil

    shutil.copy(users_db, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path}/store.db"
    app = create_app(WebSettings(store_url=url, secret=SECRET), data)  # https_only=None: automatic
    remote = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert "secure" in remote.get("/login").headers["set-cookie"].lower()
    local = TestClient(app, base_url="http://testserver", follow_redirects=False, client=("127.0.0.1", 5000))
    assert "secure" not in local.get("/login").headers["set-cookie"].lower()
    tls = TestClient(app, base_url="https://testserver", follow_redirects=False, client=("127.0.0.1", 5000))
    assert "secure" in tls.get("/login").headers["set-cookie"].lower()


@pytest.mark.parametrize("username", ["lan\x00", "l\x01an", "lan\u0085"])
def test_control_characters_in_the_log_in_are_refused_with_422(web, username):
    app, _, _ = web
    c = client_for(app)
    r = c.post("/login", data={"csrf_token": token(c), "username": username, "password": PASSWORD})
    assert r.status_code == 422


def test_trusted_proxies_setting_is_checked():
    from dropout.errors import ConfigError

    assert WebSettings.from_env({"DROPOUT_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.0/24"}).trusted_proxies == (
        "10.0.0.1", "10.0.0.0/24")
    with pytest.raises(ConfigError):
        WebSettings.from_env({"DROPOUT_TRUSTED_PROXIES": "proxy.example"})


def test_control_characters_in_a_page_address_are_a_clean_400(web):
    app, _, _ = web
    c = login(app, "admin")
    for path in ["/d/A%00Luoi", "/d/A%0ALuoi", "/login?next=%2F%00", "/d/x?commune=a%0Db"]:
        assert c.get(path).status_code == 400, path


def test_every_log_line_has_its_control_characters_escaped(caplog):
    import logging

    from dropout.textsafe import EscapeControls, escape_controls

    assert escape_controls("a\nb\x00c\td") == "a\\nb\\x00c\td"
    logger = logging.getLogger("test.hardening.escape")
    logger.addFilter(EscapeControls())
    with caplog.at_level(logging.INFO, logger="test.hardening.escape"):
        logger.info("GET %s 200", "/ranked\n127.0.0.1 - GET /admin 200")
    assert caplog.records[-1].getMessage() == "GET /ranked\\n127.0.0.1 - GET /admin 200 200"


@pytest.mark.parametrize("field", ["commune", "district"])
@pytest.mark.parametrize("value", ["Hong\x00Thai", "Hong\nThai", "\x7f"])
def test_ranked_query_refuses_control_characters(field, value):
    from pydantic import ValidationError

    from dropout.service.models import RankedQuery

    with pytest.raises(ValidationError):
        RankedQuery.model_validate({field: value}, strict=False)


def test_a_whole_number_written_as_a_float_is_taken_as_json_schema_says():
    from pydantic import ValidationError

    from dropout.service.models import RankedQuery, ScoreIdsRequest

    assert ScoreIdsRequest.model_validate({"participant_ids": [182.0]}).participant_ids == [182]
    assert RankedQuery.model_validate({"limit": 5.0}).limit == 5
    for bad in (182.5, "182", True):
        with pytest.raises(ValidationError):
            ScoreIdsRequest.model_validate({"participant_ids": [bad]})
