"""Users and roles over HTTP (docs/API.md "Users and roles"): /users/me and its
password change, the user administration routes, the role matrix of every
protected route, mass assignment, pagination, disabled and deleted users,
admin stats and the owner bootstrap.

Roles are set the way an operator would: the bootstrap admin (OWNER_*)
PATCHes /api/v1/users/{id}; the actor then logs in again, so the matrix tests
the matrix and the cache-invalidation tests below test the cache.
"""

import math
import uuid

import pytest

import authutil as au


@pytest.fixture(scope="module")
def udb(pg):
    return au.fresh_database(pg, "users")


@pytest.fixture(scope="module")
def st(udb, jwt_secret, tmp_path_factory):
    yield from au.module_stack(tmp_path_factory, udb, jwt_secret, "users")


def admin_get(s, uid):
    return au.get(s, f"/users/{uid}", token=au.owner_access(s))


# ============================================================== /users/me


def test_me_answers_the_user_object(st):
    u = au.new_user(st)
    r = au.get(st, "/users/me", token=u.access)
    assert r.status_code == 200, r.text
    me = r.json()
    au.assert_user_shape(me)
    assert me == u.info, (me, u.info)
    assert r.headers.get("Cache-Control") == "no-store"


def test_patch_me_updates_full_name_and_email(st):
    u = au.new_user(st)
    new_email = f"New.{u.username}@Example.org"
    r = au.patch(st, "/users/me", {"full_name": "<i>Alan</i> Turing", "email": new_email}, token=u.access)
    assert r.status_code == 200, r.text
    me = r.json()
    au.assert_user_shape(me)
    assert me["email"] == new_email.lower(), me
    assert me["full_name"] == "Alan Turing", me
    assert me["role"] == "user" and me["username"] == u.username
    assert au.get(st, "/users/me", token=u.access).json() == me
    # The new email logs in; the old one no longer does.
    au.login_pair(st, new_email.lower(), u.password)
    au.assert_problem(au.token(st, u.email, u.password), 401, "invalid_credentials")
    # Only one field.
    r = au.patch(st, "/users/me", {"full_name": "Alan M. Turing"}, token=u.access)
    assert r.status_code == 200 and r.json()["email"] == new_email.lower(), r.text


@pytest.mark.parametrize(
    "body",
    [{"role": "admin"}, {"role": "user"}, {"is_active": True}, {"username": "renamed"}, {"id": str(uuid.uuid4())},
     {"password": "Xy7#abcdefgh"}, {"totp_enabled": True}, {"created_at": "2020-01-01T00:00:00Z"},
     {"full_name": "ok", "role": "admin"}],
    ids=["role-admin", "role-user", "is_active", "username", "id", "password", "totp_enabled", "created_at",
         "valid-plus-role"],
)
def test_patch_me_mass_assignment_is_422_and_changes_nothing(st, body):
    u = au.new_user(st)
    r = au.patch(st, "/users/me", body, token=u.access)
    au.assert_problem(r, 422, "validation_error")
    assert au.get(st, "/users/me", token=u.access).json() == u.info


def test_patch_me_field_rules(st):
    u = au.new_user(st)
    for body, field in (({"email": "not-an-email"}, "email"), ({"full_name": "x" * 101}, "full_name"),
                        ({"email": 5}, "email"), ({"full_name": ["a"]}, "full_name")):
        au.assert_problem(au.patch(st, "/users/me", body, token=u.access), 422, "validation_error")
    for body in ([], "x"):
        au.assert_problem(au.patch(st, "/users/me", body, token=u.access), 422, "validation_error")
    r = au.call(st, "PATCH", "/users/me", token=u.access, data=b'{"full_name": "x"}', headers={"Content-Type": "text/plain"})
    au.assert_problem(r, 415, "unsupported_media_type")
    r = au.call(st, "PATCH", "/users/me", token=u.access, data=b'{"full_name": ', headers={"Content-Type": "application/json"})
    au.assert_problem(r, 400, "bad_request")
    assert au.get(st, "/users/me", token=u.access).json() == u.info


@pytest.mark.parametrize("body,field", [({"email": "not-an-email"}, "email"), ({"full_name": "x" * 101}, "full_name"),
                                        ({"email": 5}, "email"), ({"role": "admin"}, "role")],
                         ids=["email", "full_name", "email-type", "unknown-field"])
def test_patch_me_validation_errors_list_the_field(st, body, field):
    u = au.new_user(st)
    p = au.assert_problem(au.patch(st, "/users/me", body, token=u.access), 422, "validation_error")
    assert any(e.get("field") == field for e in p.get("errors") or []), f"errors do not name {field!r}: {p}"


def test_patch_me_with_a_taken_email_is_409_conflict(st):
    a, b = au.new_user(st), au.new_user(st)
    r = au.patch(st, "/users/me", {"email": b.email.upper()}, token=a.access)
    au.assert_problem(r, 409, "conflict")
    assert au.get(st, "/users/me", token=a.access).json()["email"] == a.email


# ========================================================= password change


def test_password_change_revokes_other_sessions_and_keeps_the_current_one(st):
    u = au.new_user(st)
    other = au.User(u.username, u.password, u.email, u.info)
    au.relogin(st, other)
    new = au.strong_password()
    au.wait_next_second()  # the tokens above are issued strictly before the change
    r = au.post(st, "/users/me/password", {"current_password": u.password, "new_password": new}, token=u.access)
    assert r.status_code == 204, r.text
    # Passwords: old refused, new accepted.
    au.assert_problem(au.token(st, u.username, u.password), 401, "invalid_credentials")
    # Other session: refresh token dead, access token dead.
    au.assert_problem(au.post(st, "/auth/refresh", {"refresh_token": other.refresh}), 401, "invalid_refresh_token")
    au.assert_unauthorized(au.get(st, "/users/me", token=other.access))
    # Access tokens issued before the change stop working, the current one included...
    au.assert_unauthorized(au.get(st, "/users/me", token=u.access))
    # ...but the current session's refresh token keeps working, and what it gives works.
    r = au.post(st, "/auth/refresh", {"refresh_token": u.refresh})
    assert r.status_code == 200, f"the current session's refresh token died: {r.text}"
    r = au.get(st, "/users/me", token=r.json()["access_token"])
    assert r.status_code == 200, f"a token refreshed right after the change is refused: {r.text}"
    pair = au.login_pair(st, u.username, new)
    assert au.get(st, "/users/me", token=pair["access_token"]).status_code == 200
    # Only the current session and the new login remain.
    sessions = au.get(st, "/auth/sessions", token=pair["access_token"]).json()["sessions"]
    assert {x["id"] for x in sessions} == {u.sid, au.jwt_payload(pair["access_token"])["sid"]}, sessions


def test_password_change_refusals_change_nothing(st):
    u = au.new_user(st)
    url = "/users/me/password"
    p = au.assert_problem(au.post(st, url, {"current_password": u.password + "x", "new_password": au.strong_password()},
                                  token=u.access), 400, "invalid_password")
    assert u.password not in p["detail"]
    for weak in ("Sh0rt!", "xy7#abcdefgh", "Password1!", "Xy7#" + "a" * 125):
        r = au.post(st, url, {"current_password": u.password, "new_password": weak}, token=u.access)
        p = au.assert_problem(r, 400, "weak_password")
        assert weak not in p["detail"], p
    for body in ({"current_password": u.password}, {"new_password": au.strong_password()},
                 {"current_password": u.password, "new_password": au.strong_password(), "user_id": u.id}):
        au.assert_problem(au.post(st, url, body, token=u.access), 422, "validation_error")
    # Still the same password, and the session still lives.
    au.login_pair(st, u.username, u.password)
    assert au.get(st, "/users/me", token=u.access).status_code == 200


# ============================================================ role matrix


def _target(s, role="user"):
    return au.new_user(s, role=role, login=False)


def _case_me_get(s, actor):
    return "GET", "/users/me", None, None


def _case_me_patch(s, actor):
    def unchanged():
        assert au.get(s, "/users/me", token=actor.access).json()["full_name"] == actor.info["full_name"]
    return "PATCH", "/users/me", {"full_name": "Matrix Name"}, unchanged


def _case_me_password(s, actor):
    def unchanged():
        au.login_pair(s, actor.username, actor.password)
    return "POST", "/users/me/password", {"current_password": actor.password, "new_password": au.strong_password()}, unchanged


def _case_users_list(s, actor):
    return "GET", "/users?page=1&per_page=5", None, None


def _case_users_get(s, actor):
    return "GET", f"/users/{_target(s).id}", None, None


def _case_users_patch(s, actor):
    t = _target(s)

    def unchanged():
        assert admin_get(s, t.id).json()["is_active"] is True
    return "PATCH", f"/users/{t.id}", {"is_active": False}, unchanged


def _case_users_delete(s, actor):
    t = _target(s)

    def unchanged():
        assert admin_get(s, t.id).status_code == 200, "a refused DELETE removed the user"
    return "DELETE", f"/users/{t.id}", None, unchanged


def _case_stats(s, actor):
    return "GET", "/admin/stats", None, None


def _case_session(s, actor):
    return "GET", "/auth/session", None, None


def _case_sessions(s, actor):
    return "GET", "/auth/sessions", None, None


def _case_session_delete(s, actor):
    sid = actor.sid
    return "DELETE", f"/auth/sessions/{sid}", None, None


def _case_logout_all(s, actor):
    return "POST", "/auth/logout-all", None, None


# route -> (case builder, roles allowed, success status)
MATRIX = {
    "GET /users/me": (_case_me_get, {"admin", "moderator", "user", "viewer"}, 200),
    "PATCH /users/me": (_case_me_patch, {"admin", "moderator", "user"}, 200),
    "POST /users/me/password": (_case_me_password, {"admin", "moderator", "user"}, 204),
    "GET /users": (_case_users_list, {"admin", "moderator"}, 200),
    "GET /users/{id}": (_case_users_get, {"admin", "moderator"}, 200),
    "PATCH /users/{id}": (_case_users_patch, {"admin", "moderator"}, 200),
    "DELETE /users/{id}": (_case_users_delete, {"admin"}, 204),
    "GET /admin/stats": (_case_stats, {"admin"}, 200),
    "GET /auth/session": (_case_session, set(au.ROLES), 200),
    "GET /auth/sessions": (_case_sessions, set(au.ROLES), 200),
    "DELETE /auth/sessions/{id}": (_case_session_delete, set(au.ROLES), 204),
    "POST /auth/logout-all": (_case_logout_all, set(au.ROLES), 204),
}


@pytest.mark.parametrize("role", list(au.ROLES) + ["anonymous"])
@pytest.mark.parametrize("route", list(MATRIX))
def test_role_matrix(st, route, role):
    build, allowed, ok_status = MATRIX[route]
    # Anonymous: the request a logged-in user would make, sent without its bearer.
    actor = au.new_user(st, role="user" if role == "anonymous" else role)
    method, path, body, unchanged = build(st, actor)
    r = au.call(st, method, path, token=None if role == "anonymous" else actor.access, json_body=body)
    if role == "anonymous":
        au.assert_unauthorized(r)
    elif role in allowed:
        assert r.status_code == ok_status, f"{role} on {route}: want {ok_status}, got {r.status_code} {r.text[:300]}"
    else:
        au.assert_forbidden(r)
    if unchanged is not None and role not in allowed:
        unchanged()


@pytest.mark.parametrize(
    "method,path,body",
    [("PATCH", "/users/me", {"role": "admin"}), ("PATCH", "/users/me", []),
     ("POST", "/users/me/password", {}), ("PATCH", "/users/{id}", {"username": "x"}),
     ("PATCH", "/users/{id}", {"role": "admin"})],
    ids=["me-unknown-field", "me-not-an-object", "password-empty", "user-unknown-field", "user-role"],
)
def test_authentication_and_authorisation_come_before_body_validation(st, method, path, body):
    """A caller without a valid bearer learns nothing about the body rules
    of a protected route: 401, not 422; a role without the permission: 403."""
    t = _target(st)
    path = path.replace("{id}", t.id)
    for authz in (None, "Bearer not-a-token"):
        r = au.call(st, method, path, json_body=body, headers={"Authorization": authz} if authz else None)
        au.assert_unauthorized(r)
    if path.startswith("/users/me"):
        viewer = au.new_user(st, role="viewer")
        au.assert_forbidden(au.call(st, method, path, token=viewer.access, json_body=body))
    else:
        user = au.new_user(st)
        au.assert_forbidden(au.call(st, method, path, token=user.access, json_body=body))


def test_role_change_applies_to_existing_tokens_at_once(st):
    """The role that counts is the user's current role, not the claim."""
    u = au.new_user(st)
    au.assert_forbidden(au.get(st, "/users", token=u.access))
    r = au.patch(st, f"/users/{u.id}", {"role": "moderator"}, token=au.owner_access(st))
    assert r.status_code == 200 and r.json()["role"] == "moderator", r.text
    r = au.get(st, "/users", token=u.access)  # same token, claim still says "user"
    assert r.status_code == 200, f"promotion not applied to the live token: {r.status_code} {r.text}"
    assert au.get(st, "/auth/session", token=u.access).json()["role"] == "moderator"
    r = au.patch(st, f"/users/{u.id}", {"role": "viewer"}, token=au.owner_access(st))
    assert r.status_code == 200, r.text
    au.assert_forbidden(au.get(st, "/users", token=u.access))
    au.assert_forbidden(au.patch(st, "/users/me", {"full_name": "x"}, token=u.access))


# ========================================================= /users listing


def test_list_users_paginates(st):
    for _ in range(5):
        au.new_user(st, login=False)
    tok = au.owner_access(st)
    r = au.get(st, "/users", token=tok)
    assert r.status_code == 200, r.text
    first = r.json()
    assert set(first) == {"users", "total", "page", "per_page", "pages"}, first.keys()
    assert first["page"] == 1 and first["per_page"] == 20, "defaults: page=1, per_page=20"
    total = first["total"]
    assert total >= 6 and len(first["users"]) == min(20, total)
    assert first["pages"] == math.ceil(total / 20)
    for u in first["users"]:
        au.assert_user_shape(u)

    seen = []
    pages = math.ceil(total / 3)
    for page in range(1, pages + 1):
        r = au.get(st, f"/users?page={page}&per_page=3", token=tok)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["page"] == page and body["per_page"] == 3 and body["total"] == total and body["pages"] == pages
        assert len(body["users"]) == (3 if page < pages else total - 3 * (pages - 1)), body
        seen += [u["id"] for u in body["users"]]
    assert len(seen) == total and len(set(seen)) == total, "pages overlap or miss users"
    r = au.get(st, f"/users?page={pages + 1}&per_page=3", token=tok)
    assert r.status_code == 200 and r.json()["users"] == [], r.text


def test_list_users_caps_per_page_at_100(st):
    r = au.get(st, "/users?page=1&per_page=1000", token=au.owner_access(st))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["per_page"] == 100, body["per_page"]
    assert len(body["users"]) == min(100, body["total"])
    r = au.get(st, "/users?per_page=101", token=au.owner_access(st))
    assert r.status_code == 200 and r.json()["per_page"] == 100, r.text


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=-1", "per_page=0", "per_page=-1", "page=abc", "per_page=abc", "page=1.5", "per_page=2e1",
     "page=%00", "page=99999999999999999999999"],
)
def test_list_users_bad_query_is_400_bad_request(st, query):
    r = au.get(st, f"/users?{query}", token=au.owner_access(st))
    p = au.assert_problem(r, 400, "bad_request")
    assert "abc" not in p["detail"]


# ============================================================ /users/{id}


def test_get_user_by_id(st):
    u = au.new_user(st, login=False)
    mod = au.new_user(st, role="moderator")
    r = au.get(st, f"/users/{u.id}", token=mod.access)
    assert r.status_code == 200, r.text
    assert r.json() == u.info
    for uid in (str(uuid.uuid4()), "not-a-uuid", "0", "%2e%2e"):
        au.assert_problem(au.get(st, f"/users/{uid}", token=mod.access), 404, "not_found")


def test_admin_sets_roles_and_status(st):
    u = au.new_user(st)
    tok = au.owner_access(st)
    for role in ("moderator", "viewer", "admin", "user"):
        r = au.patch(st, f"/users/{u.id}", {"role": role}, token=tok)
        assert r.status_code == 200, r.text
        au.assert_user_shape(r.json())
        assert r.json()["role"] == role
        assert admin_get(st, u.id).json()["role"] == role
    r = au.patch(st, f"/users/{u.id}", {"is_active": False, "role": "viewer"}, token=tok)
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["role"] == "viewer", r.text
    r = au.patch(st, f"/users/{u.id}", {"is_active": True}, token=tok)
    assert r.status_code == 200 and r.json()["is_active"] is True, r.text


@pytest.mark.parametrize(
    "body,status,code",
    [({"role": "superuser"}, 422, "validation_error"), ({"role": "Admin"}, 422, "validation_error"),
     ({"role": 1}, 422, "validation_error"), ({"is_active": "no"}, 422, "validation_error"),
     ({"username": "x"}, 422, "validation_error"), ({"email": "x@example.com"}, 422, "validation_error"),
     ({"password": "Xy7#abcdefgh"}, 422, "validation_error"), ({"role": "user", "id": "x"}, 422, "validation_error")],
    ids=["unknown-role", "role-case", "role-int", "is_active-string", "username", "email", "password", "id"],
)
def test_patch_user_refusals(st, body, status, code):
    u = au.new_user(st, login=False)
    au.assert_problem(au.patch(st, f"/users/{u.id}", body, token=au.owner_access(st)), status, code)
    assert admin_get(st, u.id).json() == u.info


def test_patch_unknown_user_is_404(st):
    for uid in (str(uuid.uuid4()), "nope"):
        au.assert_problem(au.patch(st, f"/users/{uid}", {"is_active": False}, token=au.owner_access(st)), 404, "not_found")


def test_moderator_cannot_change_roles(st):
    mod = au.new_user(st, role="moderator")
    for target_role, new_role in (("user", "moderator"), ("user", "admin"), ("viewer", "user"), ("user", "viewer")):
        t = _target(st, target_role)
        au.assert_forbidden(au.patch(st, f"/users/{t.id}", {"role": new_role}, token=mod.access))
        assert admin_get(st, t.id).json()["role"] == target_role
    # Not even together with an allowed status change.
    t = _target(st)
    au.assert_forbidden(au.patch(st, f"/users/{t.id}", {"role": "moderator", "is_active": False}, token=mod.access))
    assert admin_get(st, t.id).json() == t.info


@pytest.mark.parametrize("target_role,allowed", [("user", True), ("viewer", True), ("moderator", False), ("admin", False)])
def test_moderator_toggles_is_active_only_of_user_and_viewer_accounts(st, target_role, allowed):
    mod = au.new_user(st, role="moderator")
    t = _target(st, target_role)
    r = au.patch(st, f"/users/{t.id}", {"is_active": False}, token=mod.access)
    if allowed:
        assert r.status_code == 200 and r.json()["is_active"] is False, r.text
        r = au.patch(st, f"/users/{t.id}", {"is_active": True}, token=mod.access)
        assert r.status_code == 200 and r.json()["is_active"] is True, r.text
    else:
        au.assert_forbidden(r)
        assert admin_get(st, t.id).json()["is_active"] is True
    # The owner (an admin) is never the moderator's to disable.
    au.assert_forbidden(au.patch(st, f"/users/{au.owner_id(st)}", {"is_active": False}, token=mod.access))


@pytest.mark.parametrize("role", ["admin", "moderator"])
@pytest.mark.parametrize("body", [{"role": "viewer"}, {"role": "admin"}, {"is_active": False}, {"is_active": True}],
                         ids=["demote", "promote", "disable", "enable"])
def test_nobody_changes_their_own_role_or_status(st, role, body):
    me = au.new_user(st, role=role)
    au.assert_forbidden(au.patch(st, f"/users/{me.id}", body, token=me.access))
    r = au.get(st, "/users/me", token=me.access)
    assert r.status_code == 200 and r.json()["role"] == role and r.json()["is_active"] is True, r.text


def test_owner_cannot_change_own_role_either(st):
    tok = au.owner_access(st)
    au.assert_forbidden(au.patch(st, f"/users/{au.owner_id(st)}", {"role": "user"}, token=tok))
    assert au.get(st, "/users/me", token=tok).json()["role"] == "admin"


# ================================================================ delete


def test_delete_user_removes_account_and_tokens(st):
    admin = au.new_user(st, role="admin")
    victim = au.new_user(st)
    r = au.delete(st, f"/users/{victim.id}", token=admin.access)
    assert r.status_code == 204, r.text
    assert r.content == b""
    au.assert_problem(admin_get(st, victim.id), 404, "not_found")
    au.assert_unauthorized(au.get(st, "/users/me", token=victim.access))
    au.assert_problem(au.post(st, "/auth/refresh", {"refresh_token": victim.refresh}), 401, "invalid_refresh_token")
    au.assert_problem(au.token(st, victim.username, victim.password), 401, "invalid_credentials")
    au.assert_problem(au.delete(st, f"/users/{victim.id}", token=admin.access), 404, "not_found")
    ids = set()
    r = au.get(st, "/users?per_page=100", token=admin.access)
    for page in range(1, r.json()["pages"] + 1):
        ids |= {u["id"] for u in au.get(st, f"/users?page={page}&per_page=100", token=admin.access).json()["users"]}
    assert victim.id not in ids


def test_delete_yourself_is_400_cannot_delete_self(st):
    admin = au.new_user(st, role="admin")
    au.assert_problem(au.delete(st, f"/users/{admin.id}", token=admin.access), 400, "cannot_delete_self")
    assert au.get(st, "/users/me", token=admin.access).status_code == 200


def test_delete_unknown_user_is_404(st):
    for uid in (str(uuid.uuid4()), "not-a-uuid"):
        au.assert_problem(au.delete(st, f"/users/{uid}", token=au.owner_access(st)), 404, "not_found")


# ======================================================== disabled users


def test_disabled_user_cannot_log_in_refresh_or_use_tokens(st):
    u = au.new_user(st)
    b = au.User(u.username, u.password, u.email, u.info)
    r = au.post(st, "/auth/login", {"username": u.username, "password": u.password})
    cookie, _ = au.refresh_cookie(r)
    mod = au.new_user(st, role="moderator")
    r = au.patch(st, f"/users/{u.id}", {"is_active": False}, token=mod.access)
    assert r.status_code == 200 and r.json()["is_active"] is False, r.text

    au.assert_problem(au.token(st, u.username, u.password), 403, "account_disabled")
    au.assert_problem(au.post(st, "/auth/login", {"username": u.username, "password": u.password}), 403, "account_disabled")
    au.assert_problem(au.token(st, u.email, u.password), 403, "account_disabled")
    wrong = au.token(st, u.username, u.password + "x")
    au.assert_problem(wrong, 401, "invalid_credentials")
    assert au.problem_sans_rid(wrong) == au.problem_sans_rid(au.token(st, au.fresh_name(), "Xy7#whatever")), \
        "a wrong password for a disabled account must look like any wrong password"
    for path in ("/users/me", "/auth/session", "/auth/sessions"):
        au.assert_unauthorized(au.get(st, path, token=u.access))
    au.assert_problem(au.post(st, "/auth/refresh", {"refresh_token": u.refresh}), 401, "invalid_refresh_token")
    au.assert_problem(au.post(st, "/auth/refresh", {}, headers=au.cookie_header(cookie)), 401, "invalid_refresh_token")

    r = au.patch(st, f"/users/{u.id}", {"is_active": True}, token=mod.access)
    assert r.status_code == 200, r.text
    au.relogin(st, b)
    assert au.get(st, "/users/me", token=b.access).status_code == 200


# =========================================================== admin stats


def test_admin_stats(st):
    admin = au.new_user(st, role="admin")
    r = au.get(st, "/admin/stats", token=admin.access)
    assert r.status_code == 200, r.text
    stats = r.json()
    assert set(stats) == {"users", "files", "bytes_stored", "active_sessions", "blocked_sources"}, stats
    for k, v in stats.items():
        assert isinstance(v, int) and not isinstance(v, bool) and v >= 0, (k, v)
    total = au.get(st, "/users?per_page=1", token=admin.access).json()["total"]
    assert stats["users"] == total, (stats, total)
    assert stats["active_sessions"] >= 1
    au.new_user(st)  # one more user, one more session
    after = au.get(st, "/admin/stats", token=admin.access).json()
    assert after["users"] == stats["users"] + 1 and after["active_sessions"] >= stats["active_sessions"] + 1, (stats, after)


# ======================================================== owner bootstrap


def test_owner_is_created_at_first_start_as_admin(st):
    pair = au.login_pair(st, au.OWNER_USERNAME, au.OWNER_PASSWORD)
    me = au.get(st, "/users/me", token=pair["access_token"]).json()
    assert me["role"] == "admin" and me["username"] == au.OWNER_USERNAME and me["email"] == au.OWNER_EMAIL, me
    assert au.jwt_payload(pair["access_token"])["role"] == "admin"


def test_owner_is_not_created_again_when_an_admin_exists(st, pm, udb, jwt_secret, tmp_path):
    before = au.get(st, "/admin/stats", token=au.owner_access(st)).json()["users"]
    other = au.fresh_name("owner2")
    s2 = au.start_stack(pm, udb, jwt_secret, tmp_path, "owner2",
                        authsvc={"OWNER_USERNAME": other, "OWNER_PASSWORD": "Sec0nd!Owner-pass", "OWNER_EMAIL": f"{other}@example.com"})
    au.assert_problem(au.token(s2, other, "Sec0nd!Owner-pass"), 401, "invalid_credentials")
    au.login_pair(s2, au.OWNER_USERNAME, au.OWNER_PASSWORD)  # the first owner, unchanged
    assert au.get(st, "/admin/stats", token=au.owner_access(st)).json()["users"] == before
