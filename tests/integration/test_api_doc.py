"""docs/API.md keeps up with the code: every (method, path template) of the
gateway's route table and every code of the proto error table (with its
HTTP status and title) appears in it, and it documents no route heading or
error code that the code does not have.

Reads source files only: no services, no build. (The `built` fixture that
conftest.py applies to every test is overridden below, so this test runs
without the binaries too.)
"""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "API.md")
ERROR_HEADER = os.path.join(ROOT, "proto", "include", "proto_error.h")
GATEWAY_SRC = os.path.join(ROOT, "gateway", "src")

TABLE_START = re.compile(r"\bgw_route_t\s+gw_routes\s*\[\s*\]\s*=\s*\{")
ROW = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"')
# X(name, code, status, title, shows_reason, public detail or NULL)
ERROR_ROW = re.compile(r'X\(\s*(PROTO_\w+)\s*,\s*"([a-z0-9_]+)"\s*,\s*(\d{3})\s*,\s*"([^"]*)"\s*,'
                       r'\s*(?:true|false)\s*,\s*(?:NULL|"[^"]*")\s*\)')


@pytest.fixture(scope="session", autouse=True)
def built():
    """Overrides conftest's check for the service binaries: not needed here."""
    return None


def _strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _table_body(text):
    """The text between the table's opening brace and its matching close."""
    m = TABLE_START.search(text)
    if not m:
        return None
    depth, i = 1, m.end()
    while i < len(text) and depth:
        c = text[i]
        if c == '"':  # skip string literals (a pattern never holds braces, but be exact)
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    assert depth == 0, "the route table's braces do not balance"
    return text[m.end():i - 1]


def route_table():
    """[(method, pattern)] of the gateway's public route table, in order."""
    found = []
    for path in sorted(glob.glob(os.path.join(GATEWAY_SRC, "*.c"))):
        with open(path, encoding="utf-8") as f:
            body = _table_body(_strip_c_comments(f.read()))
        if body is not None:
            found.append((path, body))
    assert len(found) == 1, f"expected one definition of gw_routes[] in {GATEWAY_SRC}, found {[p for p, _ in found]}"
    path, body = found[0]
    rows = ROW.findall(body)
    # Every row of the table opens with `{"`: a row of another shape must
    # fail here, not be skipped silently.
    openings = len(re.findall(r'\{\s*"', body))
    assert openings == len(rows), f"{path}: {openings} table rows, {len(rows)} parsed as (method, pattern)"
    assert len(rows) >= 10, f"{path}: only {len(rows)} routes parsed: {rows}"
    return rows


def error_table():
    """[(code, status, title)] of PROTO_ERRORS, without the PROTO_OK row."""
    with open(ERROR_HEADER, encoding="utf-8") as f:
        text = _strip_c_comments(f.read()).replace("\\\n", " ")
    rows = [(code, int(status), title) for name, code, status, title in ERROR_ROW.findall(text) if name != "PROTO_OK"]
    n_x = len(re.findall(r"\bX\(\s*PROTO_", text))
    assert n_x == len(rows) + 1, f"{ERROR_HEADER}: {n_x} X(...) rows, {len(rows)} parsed (plus PROTO_OK)"
    assert len(rows) >= 20, rows
    return rows


def doc_text():
    with open(DOC, encoding="utf-8") as f:
        return f.read()


def doc_error_rows(doc):
    """{code: (status, title)} from the table of the "Error codes" section."""
    m = re.search(r"^###\s+Error codes\s*$(.*?)(?=^#{1,3}\s)", doc, flags=re.M | re.S)
    assert m, 'docs/API.md has no "### Error codes" section'
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else []
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        code = re.fullmatch(r"`([a-z0-9_]+)`", cells[1])
        assert code, f"error table row without a `code` in its second column: {line!r}"
        assert code.group(1) not in rows, f"{code.group(1)} listed twice in the error table"
        rows[code.group(1)] = (int(cells[0]), cells[2])
    return rows


def documented_routes(doc):
    """Routes with an entry of their own: a heading "### `GET /path`", or a
    table row whose first cell is "`GET /path`". A mention in prose does not
    count."""
    headings = re.findall(r"^#{2,4}\s+`([A-Z]+ /[^`]*)`\s*$", doc, flags=re.M)
    rows = re.findall(r"^\|\s*`([A-Z]+ /[^`]*)`\s*\|", doc, flags=re.M)
    return headings, rows


def test_every_route_of_the_route_table_is_documented():
    headings, rows = documented_routes(doc_text())
    have = set(headings) | set(rows)
    missing = [f"{m} {p}" for m, p in route_table() if f"{m} {p}" not in have]
    assert not missing, f"routes of the gateway's route table without an entry in docs/API.md: {missing}"


def test_every_documented_route_heading_is_a_route():
    routes = {f"{m} {p}" for m, p in route_table()}
    headings, _ = documented_routes(doc_text())
    assert headings, "docs/API.md has no route headings"
    stale = [h for h in headings if h not in routes]
    assert not stale, f"docs/API.md documents routes the route table does not have: {stale}"


def test_every_error_code_is_in_the_error_table_with_its_status_and_title():
    documented = doc_error_rows(doc_text())
    problems = []
    for code, status, title in error_table():
        if code not in documented:
            problems.append(f"{code}: missing")
        elif documented[code] != (status, title):
            problems.append(f"{code}: documented as {documented[code]}, the code says {(status, title)}")
    assert not problems, f"docs/API.md error table is out of date: {problems}"


def test_the_error_table_lists_no_code_the_code_lacks():
    known = {code for code, _, _ in error_table()}
    extra = sorted(set(doc_error_rows(doc_text())) - known)
    assert not extra, f"docs/API.md lists error codes proto_error.h does not have: {extra}"
