"""Agent platform (seed 001): the OpenAPI document at /v1/openapi.json against the server itself.

Schemathesis generates requests for every operation of the document (valid and invalid ones, a
bounded number each) and checks that no answer is a 5xx and that every answer's status, content
type and body are ones the document declares. Besides, every (path, method) of the document is
routed (not 404/405) and every path answers 405 for each method it does not declare.

Each operation is fuzzed as its own user (made by an admin through the API), so the per-user rate
limit (1000 requests an hour) is never what answers; POST /auth/logout gets a fresh login for each
case, so that revoking it does not end the user's other cases."""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance, unsupported_method)

from platform_common import Client, start_platform

# unsupported_method: a method the path does not declare answers 405 with Allow.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          unsupported_method]
# Cases per operation; fewer under a sanitizer (every instruction of the server is 5-15 times slower).
EXAMPLES = 10 if os.environ.get("CCB_SANITIZED") else 25
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class Platform:
    """A server with an admin logged in, and one user per fuzzed operation."""

    def __init__(self, s):
        self.s = s
        self.admin = Client(s)
        self.clients = {}

    def client_for(self, case):
        """The operation's own user, logged in; for POST /auth/logout a new login each time."""
        label = f"{case.method} {case.path}"
        if label not in self.clients:
            email = f"op{len(self.clients)}@example.com"
            self.admin.ok("POST", "/users", {"email": email, "password": "secret-password", "permissions": "all"}, 201)
            self.clients[label] = Client(self.s, email)
        if label == "POST /auth/logout":
            return Client(self.s, self.clients[label].user["email"])
        return self.clients[label]


@pytest.fixture
def platform(start_server, tmp_path):
    # it logs in for nearly every case: the login limit (tested in test_platform.py) is lifted
    return Platform(start_platform(start_server, tmp_path, args=["--login-attempts", "1000000"]))


@pytest.fixture
def api_schema(platform):
    return schemathesis.openapi.from_url(platform.s.url("/v1/openapi.json"))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_every_operation_answers_as_documented_and_never_5xx(case, platform):
    token = platform.client_for(case).token
    case.call_and_validate(base_url=platform.s.url("/v1"), headers={"Authorization": f"Bearer {token}"},
                           checks=CHECKS, timeout=30)


def concrete(path):
    """`path` with each {name} segment replaced by an id that does not exist."""
    return "/".join("no-such-id" if seg.startswith("{") else seg for seg in path.split("/"))


def unrouted(status, body):
    """The dispatcher's answer for a path it has no route for (a handler's 404 names the resource
    in its details, the dispatcher names the path)."""
    return status == 404 and "path" in (body["error"].get("details") or {})


def test_the_document_matches_the_routes(start_server, tmp_path):
    s = start_platform(start_server, tmp_path)
    c = Client(s)
    st, body, _ = c.call("GET", "/no-such-endpoint")
    assert unrouted(st, body), body
    status, doc, _ = s.http("GET", "/v1/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    assert len(doc["paths"]) > 10
    for path, ops in doc["paths"].items():
        declared = {m.upper() for m in ops}
        assert declared <= set(METHODS), (path, declared)
        for method in METHODS:
            if method == "POST" and path == "/auth/logout":
                continue  # would revoke c's token; it answers below, last
            st, body, headers = c.call(method, concrete(path), {} if method in ("POST", "PUT", "PATCH") else None)
            if method in declared:
                assert not unrouted(st, body), (method, path, st, body)
            else:
                assert st == 405, (method, path, st, body)
                assert body["success"] is False and body["error"]["code"] == "INVALID_INPUT"
                assert set(headers["Allow"].split(", ")) == declared, (path, headers["Allow"])
    st, body, _ = c.call("POST", "/auth/logout")
    assert st == 200, body
