"""Cross-site request forgery on the cookie routes. The refresh cookie is
SameSite=Lax, which browsers still attach to a simple POST from another
origin of the same site (a sibling subdomain): a request that
authenticates with the cookie and carries an Origin that is neither the
API's own nor in CORS_ORIGINS (or Sec-Fetch-Site: cross-site) is refused
403 without touching the session. A token in the body is unaffected.
"""

import pytest

import authutil as au
import restc_it as it

APP = "https://app.example.com"
EVIL = "https://evil.example.com"  # same site as APP, another origin


@pytest.fixture(scope="module")
def st(tmp_path_factory, db_url, jwt_secret):
    yield from au.module_stack(
        tmp_path_factory, db_url, jwt_secret, "csrf", gateway={"CORS_ORIGINS": APP, "COOKIE_SECURE": "false"}
    )


def browser_login(st):
    u = au.new_user(st, login=False)
    r = au.post(st, "/auth/login", {"username": u.username, "password": u.password})
    assert r.status_code == 200, r.text
    cookie, _ = au.refresh_cookie(r)
    return u, cookie, r.json()["access_token"]


def cookie_post(st, path, cookie, **headers):
    """A browser's simple POST: no body, the cookie, whatever it adds."""
    h = au.cookie_header(cookie)
    h.update(headers)
    return au.call(st, "POST", path, headers=h)


FOREIGN = [
    ("sibling_origin", {"Origin": EVIL, "Sec-Fetch-Site": "same-site"}),
    ("other_site", {"Origin": "https://attacker.test", "Sec-Fetch-Site": "cross-site"}),
    ("null_origin", {"Origin": "null"}),
    ("cross_site_without_origin", {"Sec-Fetch-Site": "cross-site"}),
    ("other_port", {"Origin": "http://127.0.0.1:1"}),
]


@pytest.mark.parametrize("path", ["/auth/refresh", "/auth/logout"])
@pytest.mark.parametrize("name,headers", FOREIGN, ids=[f[0] for f in FOREIGN])
def test_foreign_origin_with_the_cookie_is_403_and_changes_nothing(st, path, name, headers):
    u, cookie, access = browser_login(st)
    r = cookie_post(st, path, cookie, **headers)
    au.assert_problem(r, 403, "forbidden")
    assert not au.set_cookies(r), "a refused request must not touch the cookie"
    # The session is intact: the same cookie still refreshes once, from the app.
    r = cookie_post(st, "/auth/refresh", cookie, Origin=APP)
    assert r.status_code == 200, r.text
    assert au.get(st, "/users/me", token=r.json()["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"Origin": APP}, {}, {"Sec-Fetch-Site": "same-origin"}, {"Origin": "self"}],
    ids=["listed", "no_origin", "same_origin_fetch", "own_origin"],
)
def test_trusted_origins_use_the_cookie(st, headers):
    _, cookie, _ = browser_login(st)
    if headers.get("Origin") == "self":
        headers = {"Origin": f"http://127.0.0.1:{st.http_port}"}
    r = cookie_post(st, "/auth/refresh", cookie, **headers)
    assert r.status_code == 200, r.text
    assert au.refresh_cookie(r), "the rotated cookie"


def test_token_in_the_body_is_unaffected_by_origin(st):
    u = au.new_user(st, login=False)
    pair = au.login_pair(st, u.username, u.password)
    r = au.post(st, "/auth/refresh", {"refresh_token": pair["refresh_token"]}, headers={"Origin": EVIL})
    assert r.status_code == 200, r.text
    r = au.post(st, "/auth/logout", {"refresh_token": r.json()["refresh_token"]}, headers={"Origin": EVIL})
    assert r.status_code == 204, r.text


def test_logout_from_a_sibling_leaves_the_user_logged_in(st):
    _, cookie, access = browser_login(st)
    r = cookie_post(st, "/auth/logout", cookie, Origin=EVIL)
    au.assert_problem(r, 403, "forbidden")
    assert au.get(st, "/users/me", token=access).status_code == 200
    r = cookie_post(st, "/auth/refresh", cookie, Origin=APP)
    assert r.status_code == 200, "the refused logout revoked the session"
