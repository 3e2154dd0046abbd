"""Tests of the coffer package against a real Coffer server.

    COFFER_ADDR=http://127.0.0.1:8200 COFFER_TOKEN=cft_... python3 -m unittest -v test_coffer

The token must be a workspace admin's (the bootstrap token is). Every secret
the tests make lives under a fresh folder and is destroyed at the end, so a
run against a development server leaves nothing behind. A few tests use a
small local HTTP server instead, for answers a healthy Coffer never gives
(429, redirects, non-JSON bodies).
"""
from __future__ import annotations

import asyncio
import http.server
import json
import os
import secrets as random_secrets
import socket
import threading
import time
import unittest
from datetime import datetime

import coffer
from coffer import (
    AccessDenied,
    CofferError,
    InvalidSecretType,
    SecretAlreadyExists,
    SecretData,
    SecretNotFound,
    Unauthenticated,
    SecretsView,
    Unavailable,
    AsyncVault,
    Vault,
    VersionConflict,
    VersionNotFound,
    WorkspaceNotFound,
)

ADDR = os.environ.get("COFFER_ADDR")
TOKEN = os.environ.get("COFFER_TOKEN")
RUN = random_secrets.token_hex(4)
FOLDER = f"pyclient-{RUN}/"
# A value that must never show up in a URL, an exception message or a repr
# (the Node test that runs this file passes its own, and checks the server log).
CANARY = os.environ.get("COFFER_TEST_CANARY") or f"canary-{random_secrets.token_hex(8)}"


def name(suffix: str) -> str:
    return FOLDER + suffix


def setUpModule() -> None:
    if not ADDR or not TOKEN:
        raise unittest.SkipTest("set COFFER_ADDR and COFFER_TOKEN to a running server and an admin token")


def tearDownModule() -> None:
    if not ADDR or not TOKEN:
        return
    vault = Vault(ADDR, TOKEN)
    for scope in ("shared", "personal"):
        for item in vault.secrets.list(prefix=FOLDER, deleted="include", scope=scope):
            vault.secrets.delete(item.id, permanent=True, scope=scope)


class RecordingVault(Vault):
    """A Vault that remembers every URL it requested."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.urls = []
        opener = self._transport.opener

        def open(request, *args, **kwargs):
            self.urls.append(request.full_url)
            return opener.open(request, *args, **kwargs)

        self._transport.opener = type("Opener", (), {"open": staticmethod(open)})()


class CofferTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.vault = RecordingVault(ADDR, TOKEN)

    def tearDown(self) -> None:
        for url in self.vault.urls:
            self.assertNotIn(CANARY, url, "a value never travels in a URL")

    def assertCode(self, code, error_class, fn, *args, **kwargs) -> CofferError:
        with self.assertRaises(error_class) as caught:
            fn(*args, **kwargs)
        error = caught.exception
        self.assertIsInstance(error, CofferError)
        self.assertEqual(error.code, code, str(error))
        for text in (str(error), repr(error), error.message, *map(str, error.args)):
            self.assertNotIn(CANARY, text, "an exception never carries a value")
        return error


class PracticusShapeTest(CofferTestCase):
    """create_or_update_secret / get_secret / delete_secret: personal unless shared=True."""

    def test_create_get_update_delete_personal(self):
        key = name("openai")
        self.assertIsNone(self.vault.create_or_update_secret(key, CANARY))
        value, age_days = self.vault.get_secret(key)
        self.assertEqual(value, CANARY)
        self.assertEqual(age_days, 0)
        self.vault.create_or_update_secret(key, CANARY + "-2")
        self.assertEqual(self.vault.get_secret(key), (CANARY + "-2", 0))
        secret = self.vault.secrets.get(key, scope="personal")
        self.assertEqual(secret.scope, "personal")
        self.assertEqual(secret.keys, ["value"])
        self.assertEqual(secret.version, 2)
        self.vault.delete_secret(key)
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.get_secret, key)
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.delete_secret, key)

    def test_shared_and_personal_are_separate_namespaces(self):
        key = name("slack")
        self.vault.create_or_update_secret(key, CANARY + "-personal")
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.get_secret, key, shared=True)
        self.vault.create_or_update_secret(key, CANARY + "-shared", shared=True)
        self.assertEqual(self.vault.get_secret(key)[0], CANARY + "-personal")
        self.assertEqual(self.vault.get_secret(key, shared=True)[0], CANARY + "-shared")
        self.assertEqual(self.vault.secrets.get(key).data.value, CANARY + "-shared", "secrets.* default to shared")
        self.assertNotEqual(self.vault.secrets.get(key).id, self.vault.secrets.get(key, scope="personal").id)
        self.vault.delete_secret(key, shared=True)
        self.assertEqual(self.vault.get_secret(key)[0], CANARY + "-personal", "deleting the shared one leaves the personal one")
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.get_secret, key, shared=True)
        self.vault.delete_secret(key, permanent=True)
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.get_secret, key)

    def test_get_secret_of_several_keys_returns_the_map(self):
        key = name("multi")
        self.vault.secrets.create(key, {"user": "svc", "password": CANARY}, scope="personal")
        value, age_days = self.vault.get_secret(key)
        self.assertIsInstance(value, SecretData)
        self.assertEqual(dict(value), {"user": "svc", "password": CANARY})
        self.assertEqual(value.password, CANARY)
        self.assertEqual(age_days, 0)

    def test_names_are_url_encoded(self):
        key = name("deep/er/db-config.v1")
        self.vault.create_or_update_secret(key, CANARY, shared=True)
        self.assertEqual(self.vault.get_secret(key, shared=True)[0], CANARY)
        self.assertTrue(any("deep%2Fer%2Fdb-config.v1" in url for url in self.vault.urls), self.vault.urls)
        self.vault.delete_secret(key, shared=True)
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.get_secret, key, shared=True)
        # A name the server refuses never reaches another route: "../" is encoded, not followed.
        self.assertCode("INVALID_REQUEST", CofferError, self.vault.create_or_update_secret, name("x/../y"), CANARY)


class SecretsTest(CofferTestCase):
    """vault.secrets.list / get / create / update / delete / versions / rollback."""

    def test_create_get_by_name_and_id(self):
        key = name("database-config")
        data = {"host": "db.internal", "port": "5432", "username": "app", "password": CANARY}
        created = self.vault.secrets.create(key, data, label="Main database", tags=["prod", "db"])
        self.assertRegex(created.id, r"^sec_")
        self.assertEqual(created.name, key)
        self.assertEqual(created.type, "USER_DEFINED")
        self.assertEqual(created.label, "Main database")
        self.assertEqual(created.tags, ["prod", "db"])
        self.assertEqual(sorted(created.keys), sorted(data))
        self.assertEqual(created.version, 1)
        self.assertEqual(created.age_days, 0)
        self.assertEqual(created.scope, "shared")
        self.assertIsInstance(created.updated_at, datetime)
        self.assertIsNotNone(created.updated_at.tzinfo)
        self.assertIsNone(created.deleted_at)
        for ref in (key, created.id):
            secret = self.vault.secrets.get(ref)
            self.assertEqual(dict(secret.data), data)
            self.assertEqual(secret.data.password, CANARY)
            self.assertEqual(secret.data["host"], "db.internal")
            self.assertEqual(secret.id, created.id)
        with self.assertRaises(AttributeError) as caught:
            secret.data.missing_key
        self.assertNotIn(CANARY, str(caught.exception))
        self.assertCode("SECRET_ALREADY_EXISTS", SecretAlreadyExists, self.vault.secrets.create, key, {"password": CANARY})

    def test_reprs_never_show_values(self):
        secret = self.vault.secrets.create(name("repr"), {"api_key": CANARY})
        for text in (repr(secret), str(secret), repr(secret.data), str(secret.data), f"{secret.data}", repr(self.vault)):
            self.assertNotIn(CANARY, text)
        self.assertNotIn(TOKEN, repr(self.vault))
        self.assertIn("api_key", repr(secret.data))
        self.assertEqual(secret.value, CANARY)

    def test_list_shows_names_and_keys_never_values(self):
        self.vault.secrets.create(name("list/alpha"), {"api_key": CANARY})
        self.vault.secrets.create(name("list/beta"), {"user": "u", "password": CANARY})
        self.vault.secrets.create(name("list/gamma"), {"value": CANARY}, scope="personal")
        items = self.vault.secrets.list(prefix=name("list/"))
        self.assertEqual([(item.name, item.keys) for item in items], [(name("list/alpha"), ["api_key"]), (name("list/beta"), ["user", "password"])])
        for item in items:
            self.assertIsNone(item.data)
            self.assertIsNone(item.value)
            self.assertRegex(item.id, r"^sec_")
            self.assertEqual(item.version, 1)
            self.assertEqual(item.age_days, 0)
        self.assertEqual([item.name for item in self.vault.secrets.list(search=f"{RUN}/list/BET")], [name("list/beta")], "search is case-insensitive")
        self.assertEqual([item.name for item in self.vault.secrets.list(prefix=name("list/"), scope="personal")], [name("list/gamma")])
        self.assertIn(name("list/alpha"), [item.name for item in self.vault.secrets.list()])

    def test_list_fetches_every_page(self):
        for i in range(5):
            self.vault.secrets.create(name(f"pages/s{i}"), {"value": CANARY})
        self.vault.secrets.page_size = 2
        before = len(self.vault.urls)
        items = self.vault.secrets.list(prefix=name("pages/"))
        self.assertEqual([item.name for item in items], [name(f"pages/s{i}") for i in range(5)])
        self.assertEqual(len(self.vault.urls) - before, 3, "three pages of two")

    def test_update_replaces_merges_and_creates(self):
        key = name("stripe")
        self.vault.secrets.create(key, {"api_key": CANARY, "account": "acct_1"})
        replaced = self.vault.secrets.update(key, {"api_key": CANARY + "-2"})
        self.assertEqual(dict(replaced.data), {"api_key": CANARY + "-2"}, "update replaces every pair")
        self.assertEqual(replaced.version, 2)
        merged = self.vault.secrets.update(key, {"region": "eu"}, merge=True)
        self.assertEqual(dict(merged.data), {"api_key": CANARY + "-2", "region": "eu"})
        removed = self.vault.secrets.update(key, {"region": None}, merge=True)
        self.assertEqual(dict(removed.data), {"api_key": CANARY + "-2"})
        self.assertEqual(removed.version, 4)
        relabelled = self.vault.secrets.update(key, {}, merge=True, label="Stripe", tags=["billing"])
        self.assertEqual((relabelled.label, relabelled.tags, relabelled.version), ("Stripe", ["billing"], 4))
        fresh = self.vault.secrets.update(name("upserted"), {"token": CANARY}, label="Upserted")
        self.assertEqual((fresh.version, fresh.keys, fresh.label), (1, ["token"], "Upserted"))

    def test_check_and_set(self):
        key = name("cas")
        secret = self.vault.secrets.create(key, {"value": CANARY})
        updated = self.vault.secrets.update(key, {"value": CANARY + "-2"}, cas=secret.version)
        self.assertEqual(updated.version, 2)
        error = self.assertCode("VERSION_CONFLICT", VersionConflict, self.vault.secrets.update, key, {"value": CANARY + "-late"}, cas=secret.version)
        self.assertEqual(error.status, 409)
        self.assertRegex(error.request_id or "", r"^req_")
        self.assertCode("VERSION_CONFLICT", VersionConflict, self.vault.secrets.update, key, {"extra": CANARY}, cas=1, merge=True)
        self.assertEqual(self.vault.secrets.get(key).data.value, CANARY + "-2", "a failed check-and-set changes nothing")

    def test_versions_and_rollback(self):
        key = name("history")
        self.vault.secrets.create(key, {"value": CANARY})
        self.vault.secrets.update(key, {"value": CANARY + "-2", "extra": "x"})
        self.assertEqual(self.vault.secrets.get(key, version=1).data.value, CANARY)
        self.assertEqual(self.vault.secrets.get(key, version=1).version, 1)
        self.assertCode("VERSION_NOT_FOUND", VersionNotFound, self.vault.secrets.get, key, version=9)
        versions = self.vault.secrets.versions(key)
        self.assertEqual([(v.version, v.current) for v in versions], [(2, True), (1, False)])
        self.assertEqual(sorted(versions[0].keys), ["extra", "value"])
        rolled = self.vault.secrets.rollback(key, 1)
        self.assertEqual((rolled.version, dict(rolled.data)), (3, {"value": CANARY}))
        self.assertCode("VERSION_CONFLICT", VersionConflict, self.vault.secrets.rollback, key, 2, cas=1)

    def test_delete_soft_and_permanent(self):
        key = name("to-delete")
        secret = self.vault.secrets.create(key, {"value": CANARY})
        self.assertIsNone(self.vault.secrets.delete(key))
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.secrets.get, key)
        self.assertNotIn(key, [item.name for item in self.vault.secrets.list(prefix=FOLDER)])
        deleted = self.vault.secrets.list(prefix=FOLDER, deleted="only")
        self.assertEqual([(item.name, item.deleted_at is not None) for item in deleted if item.name == key], [(key, True)])
        self.assertCode("SECRET_ALREADY_EXISTS", SecretAlreadyExists, self.vault.secrets.create, key, {"value": CANARY})
        self.vault.secrets.delete(secret.id, permanent=True)
        self.assertEqual([item for item in self.vault.secrets.list(prefix=FOLDER, deleted="include") if item.name == key], [])
        self.assertEqual(self.vault.secrets.create(key, {"value": CANARY}).version, 1, "the name is free again")
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.secrets.delete, name("never-existed"))

    def test_generated_types(self):
        hmac = self.vault.secrets.create(name("signing"), type="HMAC")
        self.assertEqual(hmac.type, "HMAC")
        self.assertEqual(hmac.keys, ["value"])
        self.assertTrue(hmac.data.value)
        internal = self.vault.secrets.create(name("internal"), type="INTERNAL_API_KEY")
        self.assertRegex(internal.data.value, r"^cfk_")

    def test_invalid_secret_type(self):
        error = self.assertCode("INVALID_SECRET_TYPE", InvalidSecretType, self.vault.secrets.create, name("typed"), {"value": CANARY}, type="PASSWORD")
        self.assertEqual(error.status, 400)
        self.assertCode("INVALID_SECRET_TYPE", InvalidSecretType, self.vault.secrets.update, name("typed"), {"value": CANARY}, type="PASSWORD")
        self.assertCode("SECRET_NOT_FOUND", SecretNotFound, self.vault.secrets.get, name("typed"))

    def test_invalid_request(self):
        self.assertCode("INVALID_REQUEST", CofferError, self.vault.secrets.create, name("empty"), {})
        self.assertCode("INVALID_REQUEST", CofferError, self.vault.secrets.create, name("bad key"), {"not a key!": CANARY})
        self.assertCode("INVALID_REQUEST", CofferError, self.vault.secrets.list, prefix="no-trailing-slash")
        with self.assertRaises(ValueError):
            self.vault.secrets.update(name("x"), {"v": "1"}, merge=True, type="HMAC")


class ErrorsTest(CofferTestCase):
    def test_bad_or_missing_token_is_unauthenticated(self):
        for token in ("cft_" + "A" * 49, "not-a-token", ""):
            vault = Vault(ADDR, token)
            error = self.assertCode("UNAUTHENTICATED", Unauthenticated, vault.create_or_update_secret, name("nope"), CANARY)
            self.assertEqual(error.status, 401)
            self.assertCode("UNAUTHENTICATED", Unauthenticated, vault.secrets.list)

    def test_read_only_token_is_denied_writes(self):
        key = name("read-only")
        self.vault.secrets.create(key, {"value": CANARY})
        minted = self.vault._request("POST", "/api/v1/auth/token/child", body={"access": "read", "ttl": 600})
        reader = Vault(ADDR, minted["token"])
        self.assertEqual(reader.secrets.get(key).data.value, CANARY)
        error = self.assertCode("ACCESS_DENIED", AccessDenied, reader.secrets.update, key, {"value": CANARY + "-2"})
        self.assertEqual(error.status, 403)
        self.assertCode("ACCESS_DENIED", AccessDenied, reader.secrets.create, name("by-reader"), {"value": CANARY})
        self.assertCode("ACCESS_DENIED", AccessDenied, reader.secrets.delete, key)
        self.assertEqual(self.vault.secrets.get(key).version, 1)

    def test_unknown_workspace(self):
        vault = Vault(ADDR, TOKEN, workspace=f"no-such-workspace-{RUN}")
        self.assertCode("WORKSPACE_NOT_FOUND", WorkspaceNotFound, vault.secrets.list)
        self.assertCode("WORKSPACE_NOT_FOUND", WorkspaceNotFound, vault.create_or_update_secret, "x", CANARY)

    def test_unreachable_server_is_unavailable(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        vault = Vault(f"http://127.0.0.1:{port}", TOKEN, timeout=5)
        error = self.assertCode("UNAVAILABLE", Unavailable, vault.create_or_update_secret, name("x"), CANARY)
        self.assertEqual(error.status, 0)
        self.assertIn(f"127.0.0.1:{port}", error.message)
        self.assertNotIn(TOKEN, str(error))

    def test_whoami(self):
        me = self.vault.whoami()
        self.assertTrue(me["principalId"])


class DefaultsTest(unittest.TestCase):
    def test_environment_defaults(self):
        saved = {key: os.environ.pop(key, None) for key in ("COFFER_ADDR", "COFFER_TOKEN", "COFFER_WORKSPACE")}
        try:
            vault = Vault()
            self.assertEqual((vault.addr, vault.workspace, vault._transport.token), ("http://127.0.0.1:8200", "default", None))
            os.environ.update({"COFFER_ADDR": "http://example.test:9/", "COFFER_TOKEN": "cft_x", "COFFER_WORKSPACE": "team a"})
            vault = Vault()
            self.assertEqual((vault.addr, vault.workspace, vault._transport.token), ("http://example.test:9", "team a", "cft_x"))
            self.assertEqual(vault._path("secrets", "a/b"), "/api/v1/workspaces/team%20a/secrets/a%2Fb")
            self.assertEqual(Vault("http://h:1", "t", "w").addr, "http://h:1")
            os.environ["COFFER_ADDR"] = "http://a:8200, http://b:8200/,"
            self.assertEqual(Vault().addrs, ["http://a:8200", "http://b:8200"], "COFFER_ADDR may list several servers")
            self.assertEqual(AsyncVault().addrs, ["http://a:8200", "http://b:8200"])
            self.assertEqual(Vault(["http://c:1/"]).addrs, ["http://c:1"])
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None)
                if value is not None:
                    os.environ[key] = value


class FakeServer:
    """A local HTTP server answering from a script of (status, headers, body) replies."""

    def __init__(self, replies, delay=0.0):
        self.replies = list(replies)
        self.delay = delay
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_one(self):
                length = int(self.headers.get("content-length") or 0)
                outer.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                status, headers, body = outer.replies.pop(0)
                time.sleep(outer.delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = handle_one

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


SECRET_BODY = {
    "id": "sec_1", "name": "n", "scope": "personal", "type": "USER_DEFINED", "label": "n", "tags": [], "keys": ["value"],
    "version": 1, "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-02T00:00:00.000Z", "ageDays": 3, "deletedAt": None,
    "data": {"value": "v"},
}


class HttpBehaviourTest(unittest.TestCase):
    def test_429_is_retried_honouring_retry_after(self):
        limited = {"error": {"code": "RATE_LIMITED", "message": "slow down", "requestId": "req_1"}}
        with FakeServer([(429, {"retry-after": "0"}, limited), (429, {"retry-after": "0"}, limited), (200, {}, SECRET_BODY)]) as fake:
            self.assertEqual(Vault(fake.url, "cft_t").get_secret("n"), ("v", 3))
            self.assertEqual(len(fake.requests), 3)
            method, path, headers, _ = fake.requests[0]
            self.assertEqual((method, path), ("GET", "/api/v1/workspaces/default/secrets/n?scope=personal"))
            self.assertEqual(headers.get("Authorization"), "Bearer cft_t")

    def test_429_gives_up_after_max_retries(self):
        limited = {"error": {"code": "RATE_LIMITED", "message": "slow down", "requestId": "req_1"}}
        with FakeServer([(429, {"retry-after": "0"}, limited)] * 2) as fake:
            with self.assertRaises(coffer.RateLimited) as caught:
                Vault(fake.url, "t", max_retries=1).secrets.list()
            self.assertEqual((caught.exception.code, caught.exception.status), ("RATE_LIMITED", 429))

    def test_value_goes_in_the_body_only(self):
        with FakeServer([(201, {}, SECRET_BODY)]) as fake:
            Vault(fake.url, "t", "ws").create_or_update_secret("team/key", CANARY, shared=True)
            method, path, headers, body = fake.requests[0]
            self.assertEqual((method, path), ("PUT", "/api/v1/workspaces/ws/secrets/team%2Fkey?scope=shared"))
            self.assertEqual(json.loads(body), {"data": {"value": CANARY}})
            self.assertEqual(headers.get("Content-Type"), "application/json")

    def test_redirects_are_not_followed(self):
        with FakeServer([(307, {"location": "http://127.0.0.1:1/elsewhere"}, b"")]) as fake:
            with self.assertRaises(CofferError) as caught:
                Vault(fake.url, "t").create_or_update_secret("n", CANARY)
            self.assertEqual(caught.exception.status, 307)
            self.assertEqual(len(fake.requests), 1)

    def test_non_json_errors_and_echoed_values(self):
        echoed = {"error": {"code": "INVALID_REQUEST", "message": f"bad value {CANARY}", "requestId": "req_2"}}
        with FakeServer([(502, {}, b"<html>bad gateway</html>"), (400, {}, echoed)]) as fake:
            with self.assertRaises(CofferError) as caught:
                Vault(fake.url, "t").secrets.list()
            self.assertEqual((caught.exception.code, caught.exception.status), ("INTERNAL", 502))
            with self.assertRaises(CofferError) as caught:
                Vault(fake.url, "t").create_or_update_secret("n", CANARY)
            self.assertEqual(caught.exception.message, "bad value ****", "a value echoed by a server is masked")
            self.assertNotIn(CANARY, str(caught.exception) + repr(caught.exception))


def dead_address() -> str:
    """An address where nothing listens: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class DroppingServer:
    """Accepts a connection, reads the request, and closes it unanswered: an answer lost after the request left."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                self.requests += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.listener.close()


class AsyncVaultTest(unittest.IsolatedAsyncioTestCase):
    """AsyncVault against the real server: the same methods as Vault, awaited."""

    def setUp(self) -> None:
        self.vault = AsyncVault(ADDR, TOKEN)

    async def test_platform_style_crud(self):
        key = name("async-crud/payment-service")
        created = await self.vault.secrets.create(key, {"api_key": CANARY, "region": "eu"}, label="Payments")
        self.assertEqual((created.name, created.version, sorted(created.keys)), (key, 1, ["api_key", "region"]))
        secret = await self.vault.secrets.get(key)
        self.assertEqual(secret.data.api_key, CANARY)
        items = await self.vault.secrets.list(prefix=name("async-crud/"))
        self.assertEqual([(item.name, item.keys, item.data) for item in items], [(key, ["api_key", "region"], None)])
        updated = await self.vault.secrets.update(key, {"api_key": CANARY + "-2"})
        self.assertEqual((updated.version, dict(updated.data)), (2, {"api_key": CANARY + "-2"}))
        merged = await self.vault.secrets.update(key, {"region": "us"}, merge=True, cas=2)
        self.assertEqual(dict(merged.data), {"api_key": CANARY + "-2", "region": "us"})
        self.assertEqual([v.version for v in await self.vault.secrets.versions(key)], [3, 2, 1])
        self.assertEqual((await self.vault.secrets.rollback(key, 1)).data.api_key, CANARY)
        with self.assertRaises(VersionConflict):
            await self.vault.secrets.update(key, {"api_key": "late"}, cas=1)
        self.assertIsNone(await self.vault.secrets.delete(key))
        with self.assertRaises(SecretNotFound) as caught:
            await self.vault.secrets.get(key)
        self.assertNotIn(CANARY, str(caught.exception))

    async def test_practicus_shape_and_whoami(self):
        key = name("async/personal")
        await self.vault.create_or_update_secret(key, CANARY)
        self.assertEqual(await self.vault.get_secret(key), (CANARY, 0))
        await self.vault.delete_secret(key, permanent=True)
        with self.assertRaises(SecretNotFound):
            await self.vault.get_secret(key)
        self.assertTrue((await self.vault.whoami())["principalId"])
        self.assertEqual((await self.vault._request("GET", self.vault._sync._path("secrets"), query={"limit": 1}))["items"].__class__, list)

    async def test_calls_run_concurrently(self):
        names = [name(f"async/many-{i}") for i in range(6)]
        await asyncio.gather(*(self.vault.secrets.create(n, {"value": f"{CANARY}-{i}"}) for i, n in enumerate(names)))
        read = await asyncio.gather(*(self.vault.secrets.get(n) for n in names))
        self.assertEqual([secret.data.value for secret in read], [f"{CANARY}-{i}" for i in range(6)])

    async def test_the_event_loop_keeps_running_during_a_call(self):
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        with FakeServer([(200, {}, {"items": [], "nextCursor": None})], delay=0.5) as fake:
            task = asyncio.ensure_future(ticker())
            self.assertEqual(await AsyncVault(fake.url, "t").secrets.list(), [])
            task.cancel()
        self.assertGreater(ticks, 10, "the loop ran other tasks while the request was in flight")

    async def test_with_secrets_async(self):
        self.vault._sync.secrets.create(name("scoped/ACME_API_KEY"), {"value": CANARY})
        self.vault._sync.secrets.create(name("scoped/db"), {"user": "app", "password": CANARY})
        async with self.vault.with_secrets([name("scoped/ACME_API_KEY"), name("scoped/db")]) as vault:
            self.assertEqual(vault[name("scoped/ACME_API_KEY")], CANARY)
            self.assertEqual(vault.get(name("scoped/db")).password, CANARY)
            self.assertIsNone(vault.get("missing"))
        with self.assertRaises(RuntimeError):
            vault[name("scoped/ACME_API_KEY")]


class WithSecretsTest(CofferTestCase):
    """vault.with_secrets([...]): a read-only mapping of values, valid for one block."""

    def test_mapping_for_one_block(self):
        self.vault.secrets.create(name("with/ACME_API_KEY"), {"value": CANARY})
        self.vault.secrets.create(name("with/db"), {"host": "db.internal", "password": CANARY})
        before = len(self.vault.urls)
        with self.vault.with_secrets([name("with/ACME_API_KEY"), name("with/db")]) as vault:
            self.assertEqual(len(self.vault.urls) - before, 1, "fetched in one request")
            self.assertIsInstance(vault, SecretsView)
            self.assertEqual(vault[name("with/ACME_API_KEY")], CANARY)
            db = vault.get(name("with/db"))
            self.assertEqual((db.host, db["password"]), ("db.internal", CANARY))
            self.assertEqual(vault.get("absent", "fallback"), "fallback")
            self.assertEqual(sorted(vault), sorted([name("with/ACME_API_KEY"), name("with/db")]))
            self.assertIn(name("with/db"), vault)
            with self.assertRaises(TypeError):
                vault["x"] = "y"
            for text in (repr(vault), str(vault), repr(db)):
                self.assertNotIn(CANARY, text)
        with self.assertRaises(RuntimeError):
            vault[name("with/ACME_API_KEY")]
        with self.assertRaises(RuntimeError):
            len(vault)
        self.assertEqual(dict(db), {}, "a key/value map handed out is emptied when the block ends")

    def test_mapping_is_closed_when_the_block_raises(self):
        self.vault.secrets.create(name("with/raise"), {"value": CANARY})
        with self.assertRaises(KeyError):
            with self.vault.with_secrets([name("with/raise")]) as vault:
                raise KeyError("in the block")
        with self.assertRaises(RuntimeError):
            vault.get(name("with/raise"))

    def test_personal_secrets_and_all_or_nothing(self):
        self.vault.create_or_update_secret(name("with/mine"), CANARY)
        with self.vault.with_secrets([name("with/mine")], shared=False) as vault:
            self.assertEqual(vault[name("with/mine")], CANARY)
        ran = False
        with self.assertRaises(SecretNotFound):
            with self.vault.with_secrets([name("with/mine"), name("with/missing")]):
                ran = True
        self.assertFalse(ran, "the block never runs without every secret")


class FailoverTest(CofferTestCase):
    """Several addresses: calls safe to repeat move on when a connection fails."""

    def test_a_dead_first_address_is_skipped_and_remembered(self):
        dead = dead_address()
        vault = Vault(f"{dead},{ADDR}", TOKEN)
        self.assertEqual(vault.addr, dead)
        created = vault.secrets.create(name("failover/a"), {"value": CANARY})
        self.assertEqual(created.version, 1, "a refused connection never sent the request: a create moves on")
        self.assertEqual(vault.addr, ADDR, "the address that answered is tried first from now on")
        self.assertEqual(vault.secrets.get(name("failover/a")).data.value, CANARY)
        with vault.with_secrets([name("failover/a")]) as secrets:
            self.assertEqual(secrets[name("failover/a")], CANARY)
        self.assertEqual(vault.secrets.update(name("failover/a"), {"value": CANARY + "-2"}).version, 2)
        # A fresh client, every call starting at the dead address.
        for method in (lambda v: v.secrets.list(prefix=name("failover/")), lambda v: v.secrets.delete(name("failover/a"))):
            method(Vault([dead, ADDR], TOKEN))
        self.assertEqual(self.vault.secrets.list(prefix=name("failover/")), [])

    def test_async_failover(self):
        async def run():
            vault = AsyncVault(f"{dead_address()},{ADDR}", TOKEN)
            await vault.secrets.create(name("failover/async"), {"value": CANARY})
            return (await vault.secrets.get(name("failover/async"))).data.value

        self.assertEqual(asyncio.run(run()), CANARY)

    def test_every_address_dead_is_unavailable(self):
        first, second = dead_address(), dead_address()
        error = self.assertCode("UNAVAILABLE", Unavailable, Vault([first, second], TOKEN).secrets.get, name("x"))
        self.assertIn(first, error.message)
        self.assertIn(second, error.message)
        self.assertNotIn(TOKEN, error.message)

    def test_an_answer_lost_after_sending_fails_over_only_for_reads(self):
        with DroppingServer() as dropping, FakeServer([(200, {}, SECRET_BODY)]) as fake:
            error = self.assertCode("UNAVAILABLE", Unavailable, Vault([dropping.url, fake.url], "t").secrets.create, "n", {"value": CANARY})
            self.assertIn("not safe to repeat", error.message)
            self.assertEqual((dropping.requests, fake.requests), (1, []), "a create that may have reached a server is not sent again")
            self.assertEqual(Vault([dropping.url, fake.url], "t").get_secret("n"), ("v", 3), "a read moves on")
            self.assertEqual(dropping.requests, 2)


if __name__ == "__main__":
    unittest.main()
