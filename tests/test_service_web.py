"""The officers' pages inside the risk service: `dropout serve` mounts them under /web.

The real server in a subprocess on a free loopback port, over the same simulated district,
model and batch run as tests/test_service_http.py (its `world` fixture and helpers are
reused). The pages keep their own log-in: the API key neither is needed for them nor
opens them, and a page session does not open the API.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_service_http import KEY, START_TIMEOUT_S, free_port, stop_server, world  # noqa: E402,F401  (world: a fixture)
from test_service_unit import _call, _State  # noqa: E402

from dropout.errors import ConfigError  # noqa: E402
from dropout.service.settings import WEB_PATH, ServiceSettings  # noqa: E402

PASSWORD = "correct horse battery"
WEB_SECRET = "web-secret-" + "s" * 40
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


# ---------------------------------------------------------------- settings and guard, no server


def test_pages_are_on_when_a_store_or_data_folder_is_configured():
    assert ServiceSettings.from_env({}).web_enabled is False
    assert ServiceSettings.from_env({"DROPOUT_STORE_URL": "sqlite:///x.db"}).web_enabled is True
    assert ServiceSettings.from_env({"DROPOUT_DATA_DIR": "data"}).web_enabled is True
    assert ServiceSettings.from_env({"DROPOUT_STORE_URL": "sqlite:///x.db", "DROPOUT_WEB_ENABLED": "0"}).web_enabled \
        is False
    assert ServiceSettings.from_env({"DROPOUT_WEB_ENABLED": "on"}).web_enabled is True
    with pytest.raises(ConfigError):
        ServiceSettings.from_env({"DROPOUT_WEB_ENABLED": "maybe"})


def test_guard_hands_the_pages_prefix_to_the_pages_untouched():
    g = {"state": _State(), "api_paths": frozenset({"/score"}), "max_body_bytes": 100,
         "own_auth_prefixes": (WEB_PATH,)}
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    # no key, a form body, longer than the API's limit: the pages' own checks decide
    assert _call(g, path="/web/login", headers=form, body=b"x" * 150) == (200, b"x" * 150)
    assert _call(g, method="GET", path="/web", headers=[], body=b"")[0] == 200
    assert _call(g, method="GET", path="/web/d/A%20L%C6%B0%E1%BB%9Bi", headers=[], body=b"")[0] == 200
    # ... and only that prefix: neighbours and the API still need the key
    for path in ("/website", "/webx/login", "/score", "/", "//web/"):
        assert _call(g, path=path, headers=form)[0] == 401, path
    assert _call({**g, "own_auth_prefixes": ()}, path="/web/login", headers=form)[0] == 401
    with pytest.raises(ValueError):
        _call({**g, "own_auth_prefixes": ("/web/",)})


# ---------------------------------------------------------------- the real service


@pytest.fixture(scope="module")
def officer(world):
    """An officer account of the simulated district, made through the library as `dropout users add` does."""
    from dropout.web import accounts
    from dropout.store.engine import _shared_engine as _engine

    district = str(world["scores"]["district"].iloc[0])
    accounts.add_user(world["store"], "lan", PASSWORD, "officer", district)
    _engine(world["store"]).dispose()
    return {"username": "lan", "district": district}


@pytest.fixture(scope="module")
def server(world, officer):
    """`dropout serve` with the pages on (a store is given); yields the base URL and the log file."""
    root = world["root"]
    port = free_port()
    log_path = root / "server-web.log"
    env = {
        **os.environ,
        "DROPOUT_API_KEYS": KEY,
        "DROPOUT_WEB_SECRET": WEB_SECRET,
        "DROPOUT_SERVICE_WORKERS": "1",
        "DROPOUT_SERVICE_THREADS": "2",
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    env.pop("DROPOUT_WEB_ENABLED", None)  # the default: on, since a store is given
    cmd = [sys.executable, "-m", "dropout.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--model", str(root / "run" / "model"), "--data", str(root / "data"), "--store", world["store"]]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as c:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                try:
                    if c.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            assert c.get("/readyz").status_code == 200, log_path.read_text(errors="replace")[-3000:]
        yield {"url": url, "log": log_path}
    finally:
        stop_server(proc)


def browser(server, **headers) -> httpx.Client:
    """A client that keeps cookies and does not follow redirects (to see where they go)."""
    return httpx.Client(base_url=server["url"], headers=headers, timeout=60, follow_redirects=False)


def log_in(c: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    page = c.get("/web/login")
    assert page.status_code == 200, page.text[:500]
    token = TOKEN_RE.search(page.text).group(1)
    return c.post("/web/login", data={"csrf_token": token, "username": username, "password": password, "next": ""})


@pytest.mark.slow
def test_pages_redirect_to_their_login_under_web(server, officer):
    with browser(server) as c:
        r = c.get("/web/")
        assert r.status_code == 303 and r.headers["location"] == "/web/login"
        r = c.get("/web")
        assert r.status_code in (301, 302, 307, 308) and r.headers["location"].endswith("/web/")
        overview = f"/web/d/{quote(officer['district'])}"
        r = c.get(overview)
        assert r.status_code == 303
        assert r.headers["location"] == "/web/login?next=" + quote(overview, safe="")
        page = c.get("/web/login")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert 'action="/web/login"' in page.text and 'href="/web/static/style.css"' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        css = c.get("/web/static/style.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        assert c.get("/web/static/app.js").status_code == 200
        missing = c.get("/web/no-such-page")  # the pages' own 404, not another route's
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


@pytest.mark.slow
def test_an_officer_logs_in_and_sees_the_district_overview(server, officer):
    district = officer["district"]
    with browser(server) as c:
        r = log_in(c, "lan", "wrong password")
        assert r.status_code == 401
        r = log_in(c, "lan")
        assert r.status_code == 303 and r.headers["location"] == "/web/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        r = c.get("/web/")
        assert r.status_code == 303 and r.headers["location"] == f"/web/d/{quote(district)}"
        page = c.get(r.headers["location"])
        assert page.status_code == 200, page.text[:500]
        assert f"<h1>Huyện {district}</h1>" in page.text  # Vietnamese by default
        assert f'href="/web/d/{quote(district)}/c/' in page.text  # links keep the /web prefix
        commune = re.search(r'class="commune-link" href="([^"]+)"', page.text).group(1)
        assert c.get(commune).status_code == 200
        # a session of the pages does not open the API
        assert c.get("/model").status_code == 401
        assert c.post("/score_ids", json={"participant_ids": [1]}).status_code == 401
        # a form post without its CSRF token is refused by the pages themselves
        assert c.post("/web/logout", data={}).status_code == 403
        token = TOKEN_RE.search(page.text).group(1)
        r = c.post("/web/logout", data={"csrf_token": token})
        assert r.status_code == 303 and r.headers["location"].startswith("/web/login")
        assert c.get(f"/web/d/{quote(district)}").status_code == 303


@pytest.mark.slow
def test_api_still_needs_the_key(server):
    url = server["url"]
    for method, path in [("GET", "/model"), ("POST", "/model"), ("GET", "/ranked"), ("POST", "/score"),
                         ("GET", "/docs.json"), ("GET", "/")]:
        r = httpx.request(method, url + path, json={})
        assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), (method, path)
    assert httpx.get(url + "/model", headers={"X-API-Key": KEY}).status_code == 200
    assert httpx.get(url + "/livez").status_code == 200


@pytest.mark.slow
def test_the_api_key_does_not_open_the_pages(server, officer):
    overview = f"/web/d/{quote(officer['district'])}"
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        with browser(server, **headers) as c:
            r = c.get(overview)
            assert r.status_code == 303 and r.headers["location"].startswith("/web/login?next="), headers
            r = c.get("/web/")
            assert r.status_code == 303 and r.headers["location"] == "/web/login"
            # nor does it stand in for the CSRF token or the password
            assert c.post("/web/login", data={"username": "lan", "password": PASSWORD}).status_code == 403
            r = c.post("/web/login", data={"csrf_token": TOKEN_RE.search(c.get("/web/login").text).group(1),
                                           "username": "lan", "password": KEY})
            assert r.status_code == 401


@pytest.mark.slow
def test_the_log_holds_no_password_or_key(server, officer):
    with browser(server) as c:
        assert log_in(c, "lan").status_code == 303
    time.sleep(1.0)
    text = server["log"].read_text(errors="replace")
    assert "path=/web/login" in text  # the access log covers the pages too...
    for secret in (PASSWORD, KEY, WEB_SECRET):
        assert secret not in text  # ...and holds neither passwords, keys nor the cookie secret


@pytest.mark.slow
def test_under_serve_forwarded_for_does_not_reset_the_log_in_throttle_and_log_out_ends_copies(server, officer):
    with browser(server) as c:
        codes = [log_in_from(c, f"198.51.100.{i}") for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429], codes
    with browser(server) as c:
        assert log_in(c, "lan").status_code == 303
        district = f"/web/d/{quote(officer['district'])}"
        page = c.get(district)
        with browser(server) as thief:
            for name, value in c.cookies.items():
                thief.cookies.set(name, value)
            assert thief.get(district).status_code == 200
            c.post("/web/logout", data={"csrf_token": TOKEN_RE.search(page.text).group(1)})
            assert thief.get(district).status_code == 303


def log_in_from(c: httpx.Client, forwarded_for: str) -> int:
    token = TOKEN_RE.search(c.get("/web/login").text).group(1)
    return c.post("/web/login", headers={"X-Forwarded-For": forwarded_for},
                  data={"csrf_token": token, "username": "xff-guesser", "password": "wrong guess x",
                        "next": ""}).status_code
