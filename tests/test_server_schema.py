"""tim_py/server/openapi.json: a valid OpenAPI 3 description of docs/rest.md, and `tim-py serve`
fuzzed against it with schemathesis (property-based: valid and invalid requests generated from it).

Every answer, to a valid request or not, must be HTTP 200 JSON with the status fields and conform
to the description (its command's fields on success, one of its listed ErrorCodes on failure).
Beyond that:

- positive (schema-valid) bodies with a valid query string get ErrorCode 0, or only the codes that
  depend on the world (no such account, the 20 custom fields a user may hold) or on byte lengths
  the schema can state only in characters;
- negative (schema-invalid) bodies with a valid query string are refused (ErrorCode != 0);
- query strings generated from the description, valid or not, are answered exactly as docs/rest.md's
  table says (``expected_query_code``, a model of it: the first failing check's code).

TIM_PY_SCHEMA_EXAMPLES sets the examples per operation and mode (default 50: the whole module takes
about 25 s on 2 cores).  Schemathesis is imported by the ``fuzz`` fixture, not at collection, and
Hypothesis is put back as it was after this module (see ``fuzz``).
"""
from __future__ import annotations

import importlib
import json
import os
import re
import urllib.parse

import importlib.util

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .rest_helper import (
    ACCOUNT_CHECK,
    GOOD_QUERY,
    MULTIACCOUNT_IMPORT,
    ROOT,
    SPEC_PATH,
    RestServer,
    check_envelope,
)

if importlib.util.find_spec("schemathesis") is None:
    pytest.skip("schemathesis is not installed (pip install -e '.[test]')", allow_module_level=True)

EXAMPLES = int(os.environ.get("TIM_PY_SCHEMA_EXAMPLES", "50"))
DOC = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
COMMANDS = sorted(f"{method.upper()} {path}" for path, item in DOC["paths"].items() for method in item
                  if method == "post")


class Fuzz:
    """Schemathesis, imported for this module only (see ``fuzz``): the loaded schema, its
    operations by label, the checks, the generation modes."""

    def __init__(self) -> None:
        import schemathesis
        from schemathesis.checks import not_a_server_error
        from schemathesis.generation.modes import GenerationMode
        from schemathesis.specs.openapi.checks import (
            content_type_conformance,
            response_schema_conformance,
            status_code_conformance,
        )

        self.schema = schemathesis.openapi.from_path(SPEC_PATH)
        # A NUL in a string is refused by the protocol (60003; the description says so, and
        # tests/test_server_hostile.py sends it): not generated here.  Query parameters the
        # document does not name are ignored by the server: not generated either.
        self.schema.config.generation.update(allow_x00=False, allow_extra_parameters=False)
        self.operations = {op.label: op for op in (r.ok() for r in self.schema.get_all_operations())}
        self.checks = [not_a_server_error, status_code_conformance, content_type_conformance,
                       response_schema_conformance]
        self.modes = {"positive": GenerationMode.POSITIVE, "negative": GenerationMode.NEGATIVE}


#: What importing schemathesis patches in Hypothesis, process-wide (its example printer prints
#: nothing, larger buffers, ...): (module, attribute) pairs put back after this module.
_PATCHED = [("hypothesis.core", "RepresentationPrinter"), ("hypothesis.core", "BUFFER_SIZE"),
            ("hypothesis.internal.conjecture.engine", "BUFFER_SIZE"),
            ("hypothesis.strategies._internal.collections", "BUFFER_SIZE"),
            ("hypothesis.internal.entropy", "register_random"),
            ("hypothesis.strategies._internal.core", "is_first_param_referenced_in_function")]


@pytest.fixture(scope="module")
def fuzz():
    """Schemathesis for the tests that need it.  It is imported here, not at collection, and
    Hypothesis is put back as it was afterwards, so that the other property tests of the run
    print their falsifying examples (which they cannot when schemathesis's pytest plugin is
    loaded: run pytest with -p no:schemathesis)."""
    import sys

    saved = []
    for mod_name, attr in _PATCHED:
        mod = sys.modules.get(mod_name) or importlib.import_module(mod_name)
        if attr in mod.__dict__:
            saved.append((mod, attr, mod.__dict__[attr]))
    try:
        yield Fuzz()
    finally:
        for mod, attr, value in saved:
            setattr(mod, attr, value)
        setup = getattr(sys.modules.get("schemathesis.generation.hypothesis"), "setup", None)
        if setup is not None:
            setup._is_patched = False  # it patches again if used again


#: The accounts every test may rely on (re-imported before each fuzz test).
SEEDED = ["bob", "alice", "carol", "dave"]

_WHOLE = re.compile(r"[0-9]+", re.ASCII)


#: ``expected_query_code``'s answer where docs/rest.md leaves the outcome open.
EITHER = "either"


def expected_query_code(url: str):
    """docs/rest.md's judgement of a request's query string, in its table's order: the code of the
    first failure, or None when the query string is good (the body is judged next).  A whole
    number written with leading zeros past 10 digits (random) or the app ID with leading zeros is
    EITHER: the docs do not say whether it is that number."""
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        return 60002
    q = dict(pairs)
    if "random" not in q or not _WHOLE.fullmatch(q["random"]) or int(q["random"]) > 4294967295:
        return 60002
    if q.get("contenttype") != "json":
        return 60002
    if len(q["random"]) > 10:
        return EITHER
    if "sdkappid" not in q:
        return 60012
    if not _WHOLE.fullmatch(q["sdkappid"]) or int(q["sdkappid"]) != GOOD_QUERY["sdkappid"]:
        return 60006
    if q["sdkappid"] != str(GOOD_QUERY["sdkappid"]):
        return EITHER
    if "identifier" not in q:
        return 60004
    if q["identifier"] != GOOD_QUERY["identifier"]:
        return 60010
    if not q.get("usersig"):
        return 70002
    return None


#: What a schema-valid body, with a valid query string, may be answered beyond 0: codes that
#: depend on the world, not on the request's form.
POSITIVE_CODES = {
    "/v4/im_open_login_svc/kick": {70107},
    "/v4/profile/portrait_set": {40003, 6017},
    "/v4/openim/query_online_status": {70107},  # none of the accounts exists
    "/ref/set_user_status": {70107},
    # a UserID given twice (a JSON Schema cannot say "unique by key"), more than 20 custom fields,
    # a profile tag that is neither standard nor custom, a malformed custom tag (OpenAPI 3.0 has no
    # patternProperties to state the custom tags' form)
    "/ref/world_import": {70402, 6017, 40009, 9001},
}
#: ... and, when a string is longer in UTF-8 bytes than its limit, which a JSON Schema can state
#: in characters only: (limit in bytes, the code).
BYTE_LIMITS = {
    "/v4/im_open_login_svc/account_import": [(500, 70402)],
    "/v4/im_open_login_svc/multiaccount_import": [(500, 70402)],
    "/v4/profile/portrait_set": [(500, 40601)],
    "/ref/set_user_status": [(100, 6017)],
    "/ref/account_list": [(32, 70402)],
    "/ref/world_import": [(500, 40601), (100, 6017)],
}

PROFILE = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                   suppress_health_check=list(HealthCheck))


# ---- the document ---------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3(fuzz):
    """Valid against the OpenAPI 3.0 meta-schema (schemathesis's check on loading), every
    operation loads (its $refs resolve), operation IDs are unique."""
    assert DOC["openapi"].startswith("3.0.")
    fuzz.schema.validate()
    results = list(fuzz.schema.get_all_operations())
    assert [type(r).__name__ for r in results] == ["Ok"] * len(results), [r for r in results]
    assert len(results) == len(COMMANDS) + 1  # and GET /openapi.json
    ids = [op["operationId"] for item in DOC["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def _resolve(schema):
    """A validator of a schema object of the document (its $refs resolved in the document);
    OpenAPI 3.0's schema objects are JSON Schema draft 4 as far as this document uses them."""
    import jsonschema_rs  # schemathesis's validator

    return jsonschema_rs.Draft4Validator({**schema, "components": DOC["components"]})


def test_every_example_is_valid_for_its_schema():
    seen = 0
    for path, item in DOC["paths"].items():
        for method, op in item.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if media and "example" in media:
                _resolve(media["schema"]).validate(media["example"])
                seen += 1
            for p in op.get("parameters", []):
                p = DOC["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]] if "$ref" in p else p
                _resolve(p["schema"]).validate(p["example"])
    assert seen == len(COMMANDS)


def test_every_command_of_the_docs_is_described(fuzz):
    """The paths of docs/rest.md's tables, the command line's example and /ref/ are exactly the
    document's POST operations, each taking the five required query parameters."""
    text = (ROOT / "docs" / "rest.md").read_text(encoding="utf-8")
    documented = {"/" + p for p in re.findall(r"`(v4/[a-z_]+/[a-z_]+)`", text)}
    documented |= set(re.findall(r"`POST (/ref/[a-z_]+)`", text))
    assert documented == {label.split(" ", 1)[1] for label in COMMANDS}
    for label in COMMANDS:
        op = fuzz.operations[label]
        names = {p.name for p in op.query}
        assert names == set(GOOD_QUERY), label
        assert all(p.is_required for p in op.query), label
    assert "GET /openapi.json" in fuzz.operations


def test_limits_and_enums_are_stated():
    s = DOC["components"]["schemas"]
    assert s["UserID"]["pattern"] == "^[\\x20-\\x7E]{1,32}$"
    body = lambda path: DOC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]  # noqa: E731
    assert body("/v4/openim/query_online_status")["properties"]["To_Account"]["maxItems"] == 500
    assert body("/v4/im_open_login_svc/account_delete")["properties"]["DeleteItem"]["maxItems"] == 100
    assert body(ACCOUNT_CHECK)["properties"]["CheckItem"]["maxItems"] == 100
    assert [b["properties"][k]["maxItems"] for b, k in zip(body(MULTIACCOUNT_IMPORT)["oneOf"],
                                                           ["Accounts", "AccountList"])] == [100, 100]
    text = json.dumps(s["ProfileItemIn"])
    for name in ["Gender_Type_Unknown", "Gender_Type_Male", "Gender_Type_Female", "AllowType_Type_AllowAny",
                 "AllowType_Type_NeedConfirm", "AllowType_Type_DenyAny", "AdminForbid_Type_None",
                 "AdminForbid_Type_SendOut"]:
        assert f'"{name}"' in text


# ---- the server, fuzzed -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with RestServer(tmp_path_factory.mktemp("rest-schema-world")) as srv:
        yield srv


@pytest.fixture
def session(server):
    import requests  # schemathesis's transport

    server.ok(MULTIACCOUNT_IMPORT, {"Accounts": SEEDED})
    logged = server.stderr_size()
    with requests.Session() as s:
        yield s
    assert server.alive(), server.stderr()[-3000:]
    server.assert_no_errors_logged(logged)


def test_the_served_document_is_the_file(server, session):
    r = session.get(server.url + "/openapi.json", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == DOC


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _path(case) -> str:
    return case.operation.path


def _steer(case, data) -> None:
    """Point a positive case at a seeded account now and then, so that its command does its work
    rather than answering 'no such account'."""
    body = case.body
    if not isinstance(body, dict) or not data.draw(st.booleans(), label="seeded account"):
        return
    who = data.draw(st.sampled_from(SEEDED), label="account")
    for key in ("From_Account", "UserID"):
        if key in body:
            body[key] = who
    if isinstance(body.get("To_Account"), list) and body["To_Account"]:
        body["To_Account"][0] = who


def _allowed_positive(case) -> set:
    path = _path(case)
    allowed = {0} | POSITIVE_CODES.get(path, set())
    for limit, code in BYTE_LIMITS.get(path, []):
        if any(len(s.encode("utf-8")) > limit for s in _strings(case.body)):
            allowed.add(code)
    return allowed


def _negated_locations(case) -> set:
    meta = case.meta
    return {str(getattr(loc, "value", loc)) for loc, comp in meta.components.items() if comp.mode.is_negative}


def _sent(response) -> str:
    req = response.request
    body = req.body if isinstance(req.body, (bytes, str)) else b""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return f"{req.method} {urllib.parse.unquote(req.url)}\n{body[:2000]}"


def _fuzz(fuzz: Fuzz, server, session, label: str, mode_name: str, fixed_query: bool, free: str = "") -> None:
    """Cases of ``label`` in mode ``mode_name`` (positive or negative): the query string fixed
    (valid) and the body generated, or the body fixed (the operation's example) and the query
    string generated (only parameter ``free`` when given)."""
    op = fuzz.operations[label]
    mode = fuzz.modes[mode_name]
    if fixed_query:
        kwargs = {"query": dict(GOOD_QUERY)}
    elif free:
        kwargs = {"body": _example(op), "query": {k: v for k, v in GOOD_QUERY.items() if k != free}}
    else:
        kwargs = {"body": _example(op)}
    strategy = op.as_strategy(generation_mode=mode, **kwargs)
    counted = {"sent": 0}

    @PROFILE
    @given(case=strategy, data=st.data())
    def run(case, data):
        if mode.is_positive:
            _steer(case, data)
        response = case.call(base_url=server.url, session=session, timeout=20)
        counted["sent"] += 1
        case.validate_response(response, checks=fuzz.checks)
        answer = response.json()
        code = answer["ErrorCode"]
        assert answer["ActionStatus"] == ("OK" if code == 0 else "FAIL"), _sent(response)
        refused = expected_query_code(response.request.url)
        if refused is EITHER:
            pass
        elif refused is not None:
            assert code == refused, f"expected {refused}, got {answer}:\n{_sent(response)}"
        elif mode.is_positive:
            assert code in _allowed_positive(case), f"valid request refused with {answer}:\n{_sent(response)}"
        elif _negated_locations(case) <= {"body"}:
            assert code != 0, f"invalid body accepted ({case.meta.phase.data}):\n{_sent(response)}"

    run()
    assert server.alive(), server.stderr()[-3000:]
    assert counted["sent"] > 0


def _example(op):
    media = op.definition.raw["requestBody"]["content"]["application/json"]
    return json.loads(json.dumps(media["example"]))


@pytest.mark.parametrize("label", COMMANDS)
def test_valid_bodies(fuzz, server, session, label):
    _fuzz(fuzz, server, session, label, "positive", fixed_query=True)


@pytest.mark.parametrize("label", COMMANDS)
def test_invalid_bodies(fuzz, server, session, label):
    _fuzz(fuzz, server, session, label, "negative", fixed_query=True)


@pytest.mark.parametrize("label", COMMANDS)
def test_invalid_query_strings(fuzz, server, session, label):
    _fuzz(fuzz, server, session, label, "negative", fixed_query=False)


@pytest.mark.parametrize("name", list(GOOD_QUERY))
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_one_query_parameter_at_a_time(fuzz, server, session, name, mode):
    _fuzz(fuzz, server, session, "POST /v4/profile/portrait_get", mode, fixed_query=False, free=name)


@pytest.mark.parametrize("label", COMMANDS)
def test_the_examples_succeed(fuzz, server, session, label):
    """Each command's example in the document, sent as it is, gets ErrorCode 0."""
    op = fuzz.operations[label]
    r = session.post(server.url + op.path, params=GOOD_QUERY, json=_example(op), timeout=10)
    answer = r.json()
    assert r.status_code == 200 and answer["ErrorCode"] == 0, answer
    assert answer["ActionStatus"] == "OK"


def test_the_seeded_world_is_reported(server, session):
    d = check_envelope(server.post(ACCOUNT_CHECK, {"CheckItem": [{"UserID": u} for u in SEEDED]}))
    assert [i["AccountStatus"] for i in d["ResultItem"]] == ["Imported"] * len(SEEDED)
