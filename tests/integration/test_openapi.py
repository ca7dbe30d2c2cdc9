"""The OpenAPI document and the docs page (docs/API.md, "API documentation").

With DOCS_ENABLED=true the gateway serves GET /api/v1/openapi.json: it must
be a valid OpenAPI 3.1 document (checked by a real validator,
@seriousme/openapi-schema-validator, installed by `deploy/deps.sh docs`),
with exactly the routes of the route table (read from gateway/src by
test_api_doc.route_table, so the list is never restated here), served from
memory; with DOCS_ENABLED unset both doc paths are 404 problem JSON. The
Swagger UI page (DOCS_UI_DIR) loads in headless Chromium from same-origin
files only and shows the routes. Last, the running API is fuzzed from the
document with hypothesis: no 5xx, every error is problem JSON, every 2xx
body matches its declared schema.
"""

import json
import os
import re
import shutil
import subprocess

import pytest
import requests

import authutil as au
import restc_it as it
from test_api_doc import route_table

DOCS_NPM_DIR = os.environ.get("RESTC_DOCS_NPM_DIR", os.path.join(it.ROOT, ".state", "docs-npm"))
UI_DIR = os.path.join(DOCS_NPM_DIR, "node_modules", "swagger-ui-dist")
VALIDATOR = os.path.join(DOCS_NPM_DIR, "node_modules", ".bin", "validate-api")
DOC_PATH = "/api/v1/openapi.json"
PAGE_PATH = "/api/v1/docs"
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _need(path, what):
    if not os.path.exists(path):
        pytest.fail(f"{what} not installed at {path}: run deploy/deps.sh docs", pytrace=False)


@pytest.fixture(scope="module")
def docs_stack(tmp_path_factory, db_url, jwt_secret):
    _need(UI_DIR, "swagger-ui-dist")
    yield from au.module_stack(tmp_path_factory, db_url, jwt_secret, "docs",
                               gateway={"DOCS_ENABLED": "true", "DOCS_UI_DIR": UI_DIR})


@pytest.fixture(scope="module")
def document(docs_stack):
    r = requests.get(docs_stack.url(DOC_PATH), timeout=10)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def _validate(doc, tmp_path):
    _need(VALIDATOR, "@seriousme/openapi-schema-validator")
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    r = subprocess.run(["node", VALIDATOR, str(path)], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.strip()
    return json.loads(out[out.index("{"):]) if "{" in out else {"valid": False, "raw": out + r.stderr}


def test_document_is_valid_openapi_3_1(document, tmp_path):
    assert document["openapi"].startswith("3.1")
    result = _validate(document, tmp_path)
    assert result.get("valid") is True, json.dumps(result)[:2000]


def test_the_validator_can_fail(document, tmp_path):
    """The check above means something: a document with an operation
    missing its responses and a bad parameter location is refused."""
    broken = json.loads(json.dumps(document))
    op = broken["paths"]["/api/v1/users/{id}"]["get"]
    del op["responses"]
    op["parameters"][0]["in"] = "body"
    assert _validate(broken, tmp_path).get("valid") is False


def test_document_has_every_route_and_nothing_else(document):
    table = {(m.lower(), p) for m, p in route_table()}
    have = {(m, p) for p, item in document["paths"].items() for m in item if m in METHODS}
    assert have == table, {"missing": sorted(table - have), "extra": sorted(have - table)}
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_document_follows_the_field_tables(document):
    """Spot checks against docs/API.md's route tables."""
    reg = document["paths"]["/api/v1/auth/register"]["post"]
    schema = reg["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"username", "email", "password"}
    assert schema["properties"]["username"]["maxLength"] == 512
    assert schema["properties"]["password"]["maxLength"] == 1024
    assert schema["properties"]["email"]["format"] == "email"
    assert schema["properties"]["full_name"]["type"] == ["string", "null"]
    assert schema["additionalProperties"] is False
    assert "201" in reg["responses"]
    assert reg["security"] == []
    sessions = document["paths"]["/api/v1/auth/sessions"]["get"]
    assert sessions["security"] == [{"bearerAuth": []}]  # session-only: no API key
    me = document["paths"]["/api/v1/users/me"]["get"]
    assert {"apiKey": []} in me["security"] and {"bearerAuth": []} in me["security"]
    refresh = document["paths"]["/api/v1/auth/refresh"]["post"]
    assert {"refreshCookie": []} in refresh["security"]
    assert refresh["requestBody"]["required"] is False
    assert set(me["responses"]["429"]["headers"]) >= {"Retry-After", "RateLimit-Limit"}
    up = document["paths"]["/api/v1/files"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in up
    dl = document["paths"]["/api/v1/files/{id}/content"]["get"]
    assert {"200", "206", "304", "416"} <= set(dl["responses"])
    codes = set(document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])
    assert {"validation_error", "rate_limited", "not_found", "unauthorized"} <= codes
    schemes = document["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["bearerAuth"]["bearerFormat"] == "JWT"


def _api_md_entry(method, path):
    """The text docs/API.md gives a route: its section under its heading,
    or its table row."""
    with open(os.path.join(it.ROOT, "docs", "API.md"), encoding="utf-8") as f:
        text = f.read()
    key = re.escape(f"{method} {path}")
    m = re.search(r"^#{2,4}\s+`" + key + r"`\s*$(.*?)(?=^#{1,4}\s)", text, flags=re.M | re.S)
    if m:
        return m.group(1)
    m = re.search(r"^\|\s*`" + key + r"`\s*\|(.*)$", text, flags=re.M)
    return m.group(1) if m else None


def test_document_agrees_with_api_md(document):
    """Each operation's success statuses and permission are the ones
    docs/API.md gives that route."""
    problems = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            entry = _api_md_entry(method.upper(), path)
            if entry is None:
                problems.append(f"{method} {path}: no entry")
                continue
            for status in (s for s in op["responses"] if s.startswith("2")):
                if not re.search(r"\b" + status + r"\b", entry):
                    problems.append(f"{method} {path}: {status} not in its entry")
            perm = op.get("x-permission")
            if perm and f"`{perm}`" not in entry:
                problems.append(f"{method} {path}: permission {perm} not in its entry")
    assert not problems, problems


def test_document_is_served_from_memory_and_counted(docs_stack):
    a = requests.get(docs_stack.url(DOC_PATH), timeout=10)
    b = requests.get(docs_stack.url(DOC_PATH), timeout=10)
    assert a.content == b.content
    assert a.headers["Content-Type"] == "application/json"
    assert a.headers["Content-Security-Policy"] == STRICT_CSP
    assert "RateLimit-Remaining" in a.headers  # an /api/ route like the others
    h = requests.head(docs_stack.url(DOC_PATH), timeout=10)
    assert h.status_code == 200 and h.content == b""
    assert int(h.headers["Content-Length"]) == len(a.content)


def test_docs_off_by_default_is_404(stack):
    for path in (DOC_PATH, PAGE_PATH, PAGE_PATH + "/swagger-ui.css"):
        r = requests.get(stack.url(path), timeout=10)
        assert r.status_code == 404, (path, r.status_code)
        assert r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["code"] == "not_found"
        assert "RateLimit-Remaining" not in r.headers


@pytest.mark.parametrize("over", [
    {"DOCS_ENABLED": "true", "DOCS_UI_DIR": "/nonexistent/swagger-ui-dist"},
    {"DOCS_ENABLED": "yes please"},
], ids=["ui-dir-missing", "not-a-boolean"])
def test_a_bad_docs_setting_refuses_start(pm, tmp_path, over):
    from test_config import assert_names_variable, run_service

    s = it.Stack(pm, "postgresql://x@127.0.0.1:1/x", str(tmp_path / "objects"), it.new_secret(), name="docscfg")
    rc, out = run_service("gateway", s.gateway_env(**over))
    assert_names_variable("gateway", rc, out, "DOCS_UI_DIR" if "DOCS_UI_DIR" in over else "DOCS_ENABLED")


def test_docs_without_ui_dir_serve_the_document_only(pm, db_url, jwt_secret, tmp_path):
    s = au.start_stack(pm, db_url, jwt_secret, tmp_path, "docsnoui", gateway={"DOCS_ENABLED": "true"})
    r = requests.get(s.url(DOC_PATH), timeout=10)
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert DOC_PATH in paths and PAGE_PATH not in paths  # the document lists what is served
    assert requests.get(s.url(PAGE_PATH), timeout=10).status_code == 404


def test_docs_page_and_files(docs_stack):
    r = requests.get(docs_stack.url(PAGE_PATH), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "style-src 'self' 'unsafe-inline'" in csp and "img-src 'self' data:" in csp
    refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert refs and all(ref.startswith("/api/v1/docs/") for ref in refs), refs
    for ref in refs:
        f = requests.get(docs_stack.url(ref), timeout=10)
        assert f.status_code == 200, ref
        assert len(f.content) > 0
    init = requests.get(docs_stack.url(PAGE_PATH + "/swagger-initializer.js"), timeout=10)
    assert DOC_PATH in init.text and "validatorUrl: null" in init.text
    assert "petstore" not in init.text
    for bad in ("package.json", "..%2Fpackage.json", "swagger-ui.js.map"):
        assert requests.get(docs_stack.url(PAGE_PATH + "/" + bad), timeout=10).status_code == 404
    # Other answers keep the API's policy.
    assert requests.get(docs_stack.url("/healthz"), timeout=10).headers["Content-Security-Policy"] == STRICT_CSP


def _chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("chromium not installed: run deploy/deps.sh test", pytrace=False)


def test_docs_page_renders_the_routes_in_chromium(docs_stack, document, tmp_path):
    r = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
         "--enable-logging=stderr", "--log-level=0",  # console messages, CSP violations among them
         "--dump-dom", docs_stack.url(PAGE_PATH)],
        capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    dom = r.stdout
    assert "swagger-ui" in dom, (r.returncode, r.stderr[-2000:])
    # Swagger UI renders one operation block per operation, with its path
    # (a zero-width space may break long paths: drop it before comparing).
    flat = dom.replace("\u200b", "").replace("&ZeroWidthSpace;", "")
    assert "opblock" in flat, r.stderr[-2000:]
    missing = [p for p in document["paths"] if p not in flat]
    assert not missing, (missing, r.stderr[-1500:])
    # Nothing the page does needs more than its policy allows (no script,
    # style, image or fetch from elsewhere, no eval).
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line]
    violations = [line for line in console if "Content Security Policy" in line]
    assert not violations, violations


# ------------------------------------------------------------------ fuzzing
#
# Requests per operation, drawn from the document's own schemas: path
# parameters (ids that exist, random UUIDs, junk), the declared query
# parameters, bodies (valid per the schema, or broken: a wrong type, an
# unknown or missing field, too long, not an object, not JSON, the wrong
# Content-Type), and credentials (none, a user's bearer or API key, junk,
# both at once). Whatever comes back must be what the document declares.

from urllib.parse import quote  # noqa: E402

import jsonschema  # noqa: E402
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

FUZZ_EXAMPLES = int(os.environ.get("RESTC_OPENAPI_FUZZ_EXAMPLES", "25"))
LONG = 80  # longest generated string (bounds larger than this are tried with one too-long value)


def _ops():
    """(method, path) of every operation, from the parsed route table (the
    document has exactly these, as checked above)."""
    return [(m.lower(), p) for m, p in route_table()]


def _text(max_size):
    return st.text(st.characters(blacklist_categories=("Cs",)), max_size=max_size)


def _value(schema):
    """A value valid for `schema` (the subset the document uses)."""
    types = schema.get("type", "object")
    types = types if isinstance(types, list) else [types]
    options = []
    for t in types:
        if t == "string":
            options.append(_text(min(schema.get("maxLength", LONG), LONG)))
        elif t == "integer":
            options.append(st.integers(-(2 ** 40), 2 ** 40) | st.integers(1, 4000))
        elif t == "boolean":
            options.append(st.booleans())
        elif t == "null":
            options.append(st.none())
        elif t == "array":
            options.append(st.lists(_value(schema.get("items", {"type": "string"})),
                                    max_size=min(schema.get("maxItems", 4), 4)))
        elif t == "object":
            options.append(_object(schema))
    return st.one_of(options)


def _object(schema):
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    return st.fixed_dictionaries({k: _value(v) for k, v in props.items() if k in required},
                                 optional={k: _value(v) for k, v in props.items() if k not in required})


@st.composite
def _broken(draw, schema):
    """A body the schema refuses (or that is not JSON at all)."""
    props = schema.get("properties", {})
    body = draw(_object(schema))
    kinds = ["unknown", "not_object", "not_json"]
    if props:
        kinds += ["wrong_type"]
    if schema.get("required"):
        kinds += ["missing"]
    if any("maxLength" in p for p in props.values()):
        kinds += ["too_long"]
    kind = draw(st.sampled_from(kinds))
    if kind == "unknown":
        body[draw(st.sampled_from(["role", "id", "is_admin", "x" * 70, "é"]))] = 1
    elif kind == "not_object":
        return json.dumps(draw(st.sampled_from([[], [1], "text", 3, None, True])))
    elif kind == "not_json":
        return draw(st.sampled_from(['{"a":', "{'a': 1}", '{"a":1,"a":2}', "\xff", "[" * 40]))
    elif kind == "wrong_type":
        body[draw(st.sampled_from(sorted(props)))] = draw(st.sampled_from([{"x": 1}, [[1]], 1.5, "s", 7]))
    elif kind == "missing":
        body.pop(draw(st.sampled_from(sorted(schema["required"]))), None)
    elif kind == "too_long":
        name = draw(st.sampled_from(sorted(k for k, p in props.items() if "maxLength" in p)))
        body[name] = "a" * (props[name]["maxLength"] + 1)
    return json.dumps(body)


@pytest.fixture(scope="module")
def fuzz_ctx(docs_stack, document):
    """A signed-in user with an API key and a file of their own: ids and
    credentials that exist."""
    u = au.new_user(docs_stack)
    r = au.post(docs_stack, "/auth/api-keys", {"name": "fuzz"}, token=u.access)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    r = requests.post(docs_stack.url("/api/v1/files?name=f.txt"), data=b"hello",
                      headers={"Content-Type": "text/plain", **au.bearer(u.access)}, timeout=30)
    assert r.status_code == 201, r.text
    return {"user": u, "key": key, "ids": [u.id, r.json()["id"]], "calls": [0]}


@st.composite
def _request(draw, op, ids):
    method, path = op
    url = path
    for name in re.findall(r"\{(\w+)\}", path):
        v = draw(st.sampled_from(ids) | st.uuids().map(str) | _text(12).filter(lambda s: s and "/" not in s))
        url = url.replace("{" + name + "}", quote(v, safe=""))
    query = {}
    for p in op_doc(op).get("parameters", []):
        if p["in"] == "query" and draw(st.booleans()):
            query[p["name"]] = draw(st.one_of(st.integers(0, 300).map(str), _text(8)))
        if p["in"] == "header" and draw(st.booleans()):
            query.setdefault("_headers", {})[p["name"]] = draw(
                st.sampled_from(["bytes=0-1", "bytes=-2", "bytes=9-", "bytes=5-1", "items=1-2", '"x"', "*"]))
    headers = query.pop("_headers", {})
    body = None
    rb = op_doc(op).get("requestBody")
    content = (rb or {}).get("content", {})
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        if not rb.get("required") and draw(st.booleans()):
            body = None
        elif draw(st.booleans()):
            body = json.dumps(draw(_object(schema)))
        else:
            body = draw(_broken(schema))
        if body is not None:
            headers["Content-Type"] = draw(st.sampled_from(["application/json"] * 4 + ["text/plain"]))
    elif "multipart/form-data" in content:
        data = draw(st.binary(max_size=64))
        ctype = draw(st.sampled_from(["text/plain", "application/octet-stream", "image/png", "text/html"]))
        if draw(st.booleans()):
            query.setdefault("name", draw(_text(12)))
            headers["Content-Type"] = ctype
            body = data
        else:
            boundary = "fuzzboundary42"
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                    f"filename=\"{draw(st.sampled_from(['a.txt', 'b', '../x']))}\"\r\n"
                    f"Content-Type: {ctype}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    auth = draw(st.sampled_from(["none", "bearer", "bearer", "bearer", "key", "key", "junk_bearer", "junk_key", "both"]))
    return method, url, query, headers, body, auth


_DOC = {}


def op_doc(op):
    method, path = op
    return _DOC["doc"]["paths"][path][method]


def _auth_headers(kind, ctx):
    u = ctx["user"]
    return {
        "none": {},
        "bearer": au.bearer(u.access),
        "key": {"X-API-Key": ctx["key"]},
        "junk_bearer": {"Authorization": "Bearer not.a.jwt"},
        "junk_key": {"X-API-Key": "rk_0000000000000000_" + "A" * 43},
        "both": {**au.bearer(u.access), "X-API-Key": ctx["key"]},
    }[kind]


def _check(doc, op, r):
    where = f"{op[0].upper()} {r.request.url} -> {r.status_code}"
    assert r.status_code < 500, f"{where}: {r.text[:300]}"
    responses = op_doc(op)["responses"]
    declared = responses.get(str(r.status_code))
    ctype = r.headers.get("Content-Type", "").split(";")[0]
    if r.status_code >= 400:
        assert ctype == "application/problem+json", f"{where}: {ctype}"
        p = r.json()
        assert p["status"] == r.status_code and p["title"] and p["type"], f"{where}: {p}"
        problem = dict(doc["components"]["schemas"]["Problem"])
        jsonschema.validate(p, problem)
        return
    assert declared is not None, f"{where}: status not declared ({sorted(responses)})"
    content = declared.get("content")
    if not content:
        assert r.content == b"", f"{where}: a body on a status declared without one"
        return
    if "application/json" in content:
        assert ctype == "application/json", f"{where}: {ctype}"
        schema = {**content["application/json"]["schema"], "components": doc["components"]}
        jsonschema.Draft202012Validator(schema).validate(r.json())


@pytest.mark.parametrize("op", _ops(), ids=lambda op: f"{op[0]} {op[1]}")
def test_fuzz_operation_from_the_document(docs_stack, document, fuzz_ctx, op):
    _DOC["doc"] = document
    session = requests.Session()

    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(req=_request(op, fuzz_ctx["ids"]))
    def run(req):
        method, url, query, headers, body, auth = req
        fuzz_ctx["calls"][0] += 1
        if fuzz_ctx["calls"][0] % 40 == 0:  # logout-all or a password change may have revoked the session
            au.relogin(docs_stack, fuzz_ctx["user"])
        r = session.request(method.upper(), docs_stack.url(url), params=query, data=body,
                            headers={**headers, **_auth_headers(auth, fuzz_ctx)}, timeout=30)
        _check(document, op, r)

    run()


def test_fuzz_check_can_fail(docs_stack, document, fuzz_ctx):
    """_check refuses a 2xx body its schema does not allow and an error
    that is not problem JSON."""
    op = ("get", "/api/v1/users/me")
    r = requests.get(docs_stack.url(op[1]), headers=au.bearer(au.relogin(docs_stack, fuzz_ctx["user"])["access_token"]),
                     timeout=10)
    assert r.status_code == 200
    narrowed = json.loads(json.dumps(document))
    del narrowed["paths"][op[1]][op[0]]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["email"]
    _DOC["doc"] = narrowed
    try:
        with pytest.raises(jsonschema.ValidationError):
            _check(narrowed, op, r)
        r.headers["Content-Type"] = "application/json"
        r.status_code = 404
        with pytest.raises(AssertionError):
            _check(narrowed, op, r)
    finally:
        _DOC["doc"] = document
