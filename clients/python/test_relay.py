"""Tests of Vault.relay, relay_policy and set_relay_policy against a real Coffer server.

    COFFER_ADDR=http://127.0.0.1:8200 COFFER_TOKEN=cft_... python3 -m unittest -v test_relay

The token must be a workspace admin's. A local HTTP server on 127.0.0.1 stands
in for the external API: it echoes the credential it received, so the tests
prove the upstream got the value while the caller got only the placeholder.
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import secrets as random_secrets
import threading
import unittest
from typing import Any, Dict, List

from coffer import AccessDenied, CofferError, SecretNotFound, Vault

ADDR = os.environ.get("COFFER_ADDR")
TOKEN = os.environ.get("COFFER_TOKEN")
RUN = random_secrets.token_hex(4)
NAME = f"pyrelay-{RUN}/api-key"
PLACEHOLDER = "@{vault." + NAME + "}"
VALUE = os.environ.get("COFFER_TEST_CANARY") or f"canary-{random_secrets.token_hex(8)}"


class Upstream(http.server.ThreadingHTTPServer):
    received: List[Dict[str, Any]]


class Echo(http.server.BaseHTTPRequestHandler):
    """Echoes the Authorization header and the body as JSON; /binary answers bytes; /status/NNN that status."""

    def log_message(self, *args: Any) -> None:
        pass

    def answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        server: Upstream = self.server  # type: ignore[assignment]
        server.received.append({"method": self.command, "path": self.path, "authorization": self.headers.get("authorization"), "body": body})
        if self.path == "/binary":
            payload, kind, status = bytes(range(256)), "application/octet-stream", 200
        elif self.path.startswith("/status/"):
            payload, kind, status = b"upstream says no", "text/plain", int(self.path[8:])
        else:
            echo = {"method": self.command, "authorization": self.headers.get("authorization"), "body": body.decode("utf-8", "replace")}
            payload, kind, status = json.dumps(echo).encode(), "application/json", 200
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = answer


def setUpModule() -> None:
    if not ADDR or not TOKEN:
        raise unittest.SkipTest("set COFFER_ADDR and COFFER_TOKEN to a running server and an admin token")


class RelayTest(unittest.TestCase):
    upstream: Upstream
    base: str
    admin: Vault
    agent: Vault

    @classmethod
    def setUpClass(cls) -> None:
        cls.upstream = Upstream(("127.0.0.1", 0), Echo)
        cls.upstream.received = []
        threading.Thread(target=cls.upstream.serve_forever, daemon=True).start()
        port = cls.upstream.server_address[1]
        cls.base = f"http://127.0.0.1:{port}"
        cls.admin = Vault(ADDR, TOKEN)
        cls.admin.secrets.create(NAME, {"value": VALUE})
        cls.policy = {"hosts": ["127.0.0.1"], "schemes": ["http"], "ports": [port], "headers": ["Authorization"], "body": True, "addresses": ["127.0.0.1"]}
        # The agent holds a `use` token: Coffer uses the value for it, never shows it.
        minted = cls.admin._request("POST", "/api/v1/auth/tokens", body={"name": f"pyrelay-{RUN}", "access": "use"})
        cls.agent = Vault(ADDR, minted["token"])

    @classmethod
    def tearDownClass(cls) -> None:
        cls.upstream.shutdown()
        cls.upstream.server_close()
        cls.admin.secrets.delete(NAME, permanent=True)

    def setUp(self) -> None:
        self.admin.set_relay_policy(NAME, self.policy)

    def assertNoValue(self, thing: Any) -> None:
        self.assertNotIn(VALUE, repr(thing))
        self.assertNotIn(base64.b64encode(VALUE.encode()).decode(), repr(thing))

    def test_policy_is_read_set_and_cleared(self) -> None:
        policy = self.admin.relay_policy(NAME)
        self.assertEqual(policy, {**self.policy, "methods": [], "query": []})
        narrowed = self.admin.set_relay_policy(NAME, {"hosts": ["api.example.com"]})
        self.assertEqual(narrowed, {"hosts": ["api.example.com"], "schemes": ["https"], "ports": [], "methods": [], "headers": [], "query": [], "body": False, "addresses": []})
        self.assertIsNone(self.admin.set_relay_policy(NAME, None))
        self.assertIsNone(self.admin.relay_policy(NAME))
        with self.assertRaises(AccessDenied):
            self.agent.set_relay_policy(NAME, {"hosts": ["evil.example"]})

    def test_relay_sends_the_value_and_answers_the_placeholder(self) -> None:
        with self.assertRaises(AccessDenied):
            self.agent.secrets.get(NAME)
        answer = self.agent.relay("post", self.base + "/echo", headers={"Authorization": "Bearer " + PLACEHOLDER}, body="key=" + PLACEHOLDER)
        self.assertEqual(answer["status"], 200)
        self.assertEqual(answer["headers"]["content-type"], "application/json")
        echoed = json.loads(answer["body"])
        self.assertEqual(echoed["authorization"], "Bearer " + PLACEHOLDER)
        self.assertEqual(echoed["body"], "key=" + PLACEHOLDER)
        self.assertNoValue(answer)
        seen = self.upstream.received[-1]
        self.assertEqual(seen["authorization"], "Bearer " + VALUE)
        self.assertEqual(seen["body"], ("key=" + VALUE).encode())

    def test_bytes_travel_both_ways(self) -> None:
        answer = self.agent.relay("POST", self.base + "/binary", headers={"Authorization": "Bearer " + PLACEHOLDER}, body=b"\x00\xff\x01")
        self.assertEqual(answer["body"], bytes(range(256)))
        self.assertEqual(self.upstream.received[-1]["body"], b"\x00\xff\x01")

    def test_upstream_errors_are_answers(self) -> None:
        answer = self.agent.relay("GET", self.base + "/status/404", headers={"Authorization": "Bearer " + PLACEHOLDER})
        self.assertEqual((answer["status"], answer["body"]), (404, "upstream says no"))

    def test_refusals_send_nothing(self) -> None:
        before = len(self.upstream.received)
        port = self.upstream.server_address[1]
        with self.assertRaises(CofferError) as caught:
            self.agent.relay("GET", f"http://localhost:{port}/echo", headers={"Authorization": "Bearer " + PLACEHOLDER})
        self.assertEqual((caught.exception.code, caught.exception.status), ("DESTINATION_NOT_ALLOWED", 403))
        self.assertIn("localhost", caught.exception.message)
        self.assertNoValue(caught.exception)
        with self.assertRaises(CofferError) as caught:
            self.agent.relay("GET", self.base + "/echo", headers={"X-Other": PLACEHOLDER})
        self.assertEqual(caught.exception.code, "DESTINATION_NOT_ALLOWED")
        with self.assertRaises(SecretNotFound):
            self.agent.relay("GET", self.base + "/echo", headers={"Authorization": "Bearer @{vault.pyrelay-missing}"})
        self.assertEqual(len(self.upstream.received), before)

    def test_personal_scope(self) -> None:
        personal = f"pyrelay-{RUN}-mine"
        self.admin.secrets.create(personal, {"value": VALUE + "-personal"}, scope="personal")
        try:
            self.admin.set_relay_policy(personal, self.policy, scope="personal")
            self.assertEqual(self.admin.relay_policy(personal, scope="personal")["hosts"], ["127.0.0.1"])
            answer = self.admin.relay("GET", self.base + "/echo", headers={"Authorization": "Bearer @{vault." + personal + "}"}, scope="personal")
            self.assertEqual(json.loads(answer["body"])["authorization"], "Bearer @{vault." + personal + "}")
            self.assertEqual(self.upstream.received[-1]["authorization"], "Bearer " + VALUE + "-personal")
        finally:
            self.admin.secrets.delete(personal, permanent=True, scope="personal")


if __name__ == "__main__":
    unittest.main()
