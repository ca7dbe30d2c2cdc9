"""What the database holds after a full round of every credential: a
registration and logins (refresh tokens, rotated once), API keys, a
password reset (token from the dev-mode log, confirmed) and a password
change. The whole database is dumped (pg_dump, data only) and searched for
every secret the test was given or chose: none may be there, in any case,
nor its base64url-decoded bytes in hex (what a careless bytea would hold).
"""

import subprocess

import pytest

import authutil as au


@pytest.fixture(scope="module")
def sdb(pg):
    return au.fresh_database(pg, "secrets")


@pytest.fixture(scope="module")
def st(sdb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, sdb, jwt_secret, "secrets")


def dump(db_url):
    r = subprocess.run(["pg_dump", "--data-only", "--no-owner", "-d", db_url], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r.stdout


def forms(secret):
    """The secret as text, and (for base64url secrets) its bytes in hex."""
    out = {secret, secret.lower()}
    try:
        raw = au.b64u_decode(secret)
        if len(raw) >= 16:
            out.add(raw.hex())
    except Exception:
        pass
    return out


def test_no_secret_is_stored_in_clear(st):
    secrets = {}
    u = au.new_user(st)
    secrets["password"] = u.password
    secrets["refresh token"] = u.refresh
    r = au.post(st, "/auth/refresh", {"refresh_token": u.refresh})
    assert r.status_code == 200, r.text
    secrets["rotated refresh token"] = r.json()["refresh_token"]
    for i, perms in enumerate((None, ["self:read"])):
        body = {"permissions": perms} if perms else {}
        k = au.new_api_key(st, u, **body)
        secrets[f"api key {i}"] = k["key"]
        secrets[f"api key secret {i}"] = k["key"].split("_", 2)[2]
        assert au.call(st, "GET", "/users/me", headers=au.api_key_header(k["key"])).status_code == 200
    r = au.post(st, "/auth/password-reset", {"email": u.email})
    assert r.status_code == 202
    token = au.reset_token_of(au.dev_mail(st, r.headers["X-Request-ID"])["text"])
    secrets["reset token"] = token
    new_pw = au.strong_password()
    assert au.post(st, "/auth/password-reset/confirm", {"token": token, "new_password": new_pw}).status_code == 204
    secrets["password after reset"] = new_pw
    pair = au.login_pair(st, u.username, new_pw)
    changed = au.strong_password()
    r = au.post(st, "/users/me/password", {"current_password": new_pw, "new_password": changed},
                token=pair["access_token"])
    assert r.status_code == 204, r.text
    secrets["changed password"] = changed
    secrets["refresh token after reset"] = pair["refresh_token"]

    text = dump(st.db_url)
    # Positive control: the dump holds the rows we made (by their ids).
    assert u.id in text and u.username in text and u.email in text
    assert "password_reset_tokens" in text and "api_keys" in text
    low = text.lower()
    for what, secret in secrets.items():
        for f in forms(secret):
            assert f.lower() not in low, f"the {what} is in the database"
