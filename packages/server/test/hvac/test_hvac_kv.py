"""Coffer's /v1 spoken by hvac (Debian's python3-hvac, unchanged): KV v2, tokens, ACL policies, logins, mounts.

Run by vault-hvac.test.ts against a real server: VAULT_ADDR, VAULT_TOKEN, and
the fixtures' COFFER_* variables come from there.
"""
import os
import unittest

import hvac
from hvac import exceptions

ADDR = os.environ["VAULT_ADDR"]
TOKEN = os.environ["VAULT_TOKEN"]


class KvV2(unittest.TestCase):
    def setUp(self):
        self.client = hvac.Client(url=ADDR, token=TOKEN)
        self.kv = self.client.secrets.kv.v2

    def test_authenticated_and_healthy(self):
        self.assertTrue(self.client.is_authenticated())
        self.assertFalse(self.client.sys.read_health_status(method="GET")["sealed"])
        self.assertFalse(self.client.sys.is_sealed())

    def test_write_read_versions_patch_and_cas(self):
        self.assertEqual(self.kv.create_or_update_secret("hvac/app", {"user": "app", "password": "hvac-v1"})["data"]["version"], 1)
        self.kv.create_or_update_secret("hvac/app", {"user": "app", "password": "hvac-v2"}, cas=1)
        read = self.kv.read_secret_version("hvac/app")
        self.assertEqual(read["data"]["data"], {"user": "app", "password": "hvac-v2"})
        self.assertEqual(read["data"]["metadata"]["version"], 2)
        self.assertEqual(self.kv.read_secret_version("hvac/app", version=1)["data"]["data"]["password"], "hvac-v1")
        with self.assertRaises(exceptions.InvalidRequest) as refused:
            self.kv.create_or_update_secret("hvac/app", {"password": "late"}, cas=1)
        self.assertIn("check-and-set parameter did not match the current version", str(refused.exception))
        # hvac's patch reads, merges and writes back with cas.
        self.assertEqual(self.kv.patch("hvac/app", {"region": "eu"})["data"]["version"], 3)
        self.assertEqual(self.kv.read_secret_version("hvac/app")["data"]["data"]["region"], "eu")
        with self.assertRaises(exceptions.InvalidPath):
            self.kv.read_secret_version("hvac/missing")

    def test_list_delete_undelete_destroy_metadata(self):
        self.kv.create_or_update_secret("hvac/list/a", {"value": "a1"})
        self.kv.create_or_update_secret("hvac/list/a", {"value": "a2"})
        self.kv.create_or_update_secret("hvac/list/sub/b", {"value": "b"})
        self.assertEqual(self.kv.list_secrets("hvac/list")["data"]["keys"], ["a", "sub/"])

        self.kv.delete_latest_version_of_secret("hvac/list/a")
        with self.assertRaises(exceptions.InvalidPath):
            self.kv.read_secret_version("hvac/list/a")
        self.kv.undelete_secret_versions("hvac/list/a", versions=[2])
        self.assertEqual(self.kv.read_secret_version("hvac/list/a")["data"]["data"], {"value": "a2"})
        self.kv.delete_secret_versions("hvac/list/a", versions=[1])
        self.kv.destroy_secret_versions("hvac/list/a", versions=[1])
        metadata = self.kv.read_secret_metadata("hvac/list/a")["data"]
        self.assertTrue(metadata["versions"]["1"]["destroyed"])
        self.assertEqual(metadata["current_version"], 2)

        self.kv.update_metadata("hvac/list/a", max_versions=4, cas_required=True)
        metadata = self.kv.read_secret_metadata("hvac/list/a")["data"]
        self.assertEqual((metadata["max_versions"], metadata["cas_required"]), (4, True))
        with self.assertRaises(exceptions.InvalidRequest):
            self.kv.create_or_update_secret("hvac/list/a", {"value": "no-cas"})

        self.kv.delete_metadata_and_all_versions("hvac/list/sub/b")
        with self.assertRaises(exceptions.InvalidPath):
            self.kv.read_secret_metadata("hvac/list/sub/b")

    def test_configuration(self):
        self.kv.configure(max_versions=12, mount_point="secret")
        config = self.kv.read_configuration()["data"]
        self.assertEqual((config["max_versions"], config["cas_required"]), (12, False))


class Identity(unittest.TestCase):
    def test_token_lookup_and_child(self):
        client = hvac.Client(url=ADDR, token=TOKEN)
        self.assertEqual(client.auth.token.lookup_self()["data"]["display_name"], "bootstrap")
        child = client.auth.token.create(ttl="5m", policies=["default"])["auth"]["client_token"]
        other = hvac.Client(url=ADDR, token=child)
        self.assertTrue(other.is_authenticated())
        other.auth.token.revoke_self()
        self.assertFalse(other.is_authenticated())

    def test_userpass_and_approle_login(self):
        user = hvac.Client(url=ADDR)
        user.auth.userpass.login(os.environ["COFFER_MEMBER"], os.environ["COFFER_MEMBER_PASSWORD"])
        self.assertTrue(user.is_authenticated())
        app = hvac.Client(url=ADDR)
        app.auth.approle.login(os.environ["COFFER_ROLE_ID"], os.environ["COFFER_SECRET_ID"])
        self.assertEqual(app.secrets.kv.v2.read_secret_version("shared/api")["data"]["data"], {"value": "shared-v1"})
        with self.assertRaises(exceptions.InvalidRequest):
            hvac.Client(url=ADDR).auth.approle.login("sa_nobody", os.environ["COFFER_SECRET_ID"])

    def test_a_member_without_a_grant_is_forbidden(self):
        member = hvac.Client(url=ADDR, token=os.environ["COFFER_MEMBER_TOKEN"])
        with self.assertRaises(exceptions.Forbidden):
            member.secrets.kv.v2.read_secret_version("shared/api")
        with self.assertRaises(exceptions.Forbidden):
            member.secrets.kv.v2.create_or_update_secret("shared/api", {"value": "x"})
        with self.assertRaises(exceptions.Forbidden):
            hvac.Client(url=ADDR, token="cft_wrong").secrets.kv.v2.read_secret_version("shared/api")

    def test_mounts(self):
        client = hvac.Client(url=ADDR, token=TOKEN)
        mounts = client.sys.list_mounted_secrets_engines()["data"]
        self.assertEqual((mounts["secret/"]["type"], mounts["secret/"]["options"]["version"]), ("kv", "2"))
        client.sys.enable_secrets_engine("kv", path="hvac-team", options={"version": "2"})
        client.secrets.kv.v2.create_or_update_secret("x", {"value": "y"}, mount_point="hvac-team")
        self.assertEqual(client.secrets.kv.v2.read_secret_version("x", mount_point="hvac-team")["data"]["data"], {"value": "y"})
        client.sys.disable_secrets_engine("hvac-team")
        self.assertNotIn("hvac-team/", client.sys.list_mounted_secrets_engines()["data"])


class Tokens(unittest.TestCase):
    """What Vault Agent and hvac users rely on: token fields, renewal up to the maximum, orphans."""

    def setUp(self):
        self.client = hvac.Client(url=ADDR, token=TOKEN)

    def test_create_lookup_and_renew_up_to_the_maximum(self):
        auth = self.client.auth.token.create(ttl="10m", explicit_max_ttl="30m", renewable=True, meta={"team": "payments"}, display_name="agent")["auth"]
        self.assertEqual((auth["lease_duration"], auth["renewable"], auth["metadata"], auth["orphan"]), (600, True, {"team": "payments"}, False))
        child = hvac.Client(url=ADDR, token=auth["client_token"])
        info = child.auth.token.lookup_self()["data"]
        self.assertEqual(info["accessor"], auth["accessor"])
        self.assertEqual((info["ttl"], info["creation_ttl"], info["explicit_max_ttl"]), (600, 600, 1800))
        self.assertEqual((info["renewable"], info["meta"], info["num_uses"], info["orphan"], info["type"]), (True, {"team": "payments"}, 0, False, "service"))
        self.assertIn("agent", info["display_name"])
        self.assertIn("default", info["policies"])
        self.assertRegex(info["expire_time"], r"^\d{4}-\d\d-\d\dT")
        # The same fields through lookup by token, by the parent.
        self.assertEqual(self.client.auth.token.lookup(auth["client_token"])["data"]["accessor"], auth["accessor"])
        # Renewal moves the expiry, never past explicit_max_ttl.
        self.assertEqual(child.auth.token.renew_self(increment="20m")["auth"]["lease_duration"], 1200)
        capped = self.client.auth.token.renew(auth["client_token"], increment="2h")["auth"]["lease_duration"]
        self.assertLessEqual(capped, 1800)
        self.assertGreater(capped, 1700)
        self.assertLessEqual(child.auth.token.lookup_self()["data"]["ttl"], 1800)

    def test_a_token_made_not_renewable_is_refused_renewal(self):
        auth = self.client.auth.token.create(ttl="5m", renewable=False)["auth"]
        self.assertFalse(auth["renewable"])
        with self.assertRaises(exceptions.InvalidRequest):
            hvac.Client(url=ADDR, token=auth["client_token"]).auth.token.renew_self()

    def test_periodic_token(self):
        auth = self.client.auth.token.create(period="15m")["auth"]
        info = hvac.Client(url=ADDR, token=auth["client_token"]).auth.token.lookup_self()["data"]
        self.assertEqual((info["period"], info["ttl"]), (900, 900))

    def test_create_orphan(self):
        # hvac's create_token(orphan=True) posts to auth/token/create-orphan, sending every field (null when unset).
        auth = self.client.create_token(orphan=True, ttl="5m", display_name="orphan")["auth"]
        self.assertTrue(auth["orphan"])
        orphan = hvac.Client(url=ADDR, token=auth["client_token"])
        self.assertTrue(orphan.auth.token.lookup_self()["data"]["orphan"])
        # A child of another token is no orphan.
        parent = hvac.Client(url=ADDR, token=self.client.auth.token.create(ttl="5m")["auth"]["client_token"])
        child = parent.auth.token.create(ttl="5m")["auth"]["client_token"]
        self.assertFalse(hvac.Client(url=ADDR, token=child).auth.token.lookup_self()["data"]["orphan"])
        # A member, not an administrator, may not make orphans.
        member = hvac.Client(url=ADDR, token=os.environ["COFFER_MEMBER_TOKEN"])
        with self.assertRaises(exceptions.Forbidden):
            member.create_token(orphan=True, ttl="5m")

    def test_revoke_by_token_and_by_accessor_takes_the_children_too(self):
        parent = self.client.auth.token.create(ttl="5m")["auth"]
        child = hvac.Client(url=ADDR, token=parent["client_token"]).auth.token.create(ttl="5m")["auth"]
        self.client.auth.token.revoke(parent["client_token"])
        self.assertFalse(hvac.Client(url=ADDR, token=parent["client_token"]).is_authenticated())
        self.assertFalse(hvac.Client(url=ADDR, token=child["client_token"]).is_authenticated())
        other = self.client.auth.token.create(ttl="5m")["auth"]
        self.client.auth.token.revoke_accessor(other["accessor"])
        self.assertFalse(hvac.Client(url=ADDR, token=other["client_token"]).is_authenticated())
        # A member may not revoke the administrator's tokens, by token or by accessor.
        kept = self.client.auth.token.create(ttl="5m")["auth"]
        member = hvac.Client(url=ADDR, token=os.environ["COFFER_MEMBER_TOKEN"])
        with self.assertRaises(exceptions.Forbidden):
            member.auth.token.revoke(kept["client_token"])
        with self.assertRaises(exceptions.Forbidden):
            member.auth.token.revoke_accessor(kept["accessor"])
        self.assertTrue(hvac.Client(url=ADDR, token=kept["client_token"]).is_authenticated())


class AclPolicies(unittest.TestCase):
    """Policies written, read, listed and deleted through hvac, and a token scoped by one refused outside it."""

    def setUp(self):
        self.client = hvac.Client(url=ADDR, token=TOKEN)

    def test_write_read_list_delete(self):
        hcl = 'path "secret/data/hvac-policy/*" {\n  capabilities = ["read", "list"]\n}\n'
        self.client.sys.create_or_update_policy("hvac-reader", hcl)
        self.assertIn("hvac-reader", self.client.sys.list_policies()["data"]["policies"])
        self.assertEqual(self.client.sys.read_policy("hvac-reader")["data"]["rules"], hcl)
        # A policy given as a dict is sent as JSON, which Vault reads too.
        self.client.sys.create_or_update_policy("hvac-json", {"path": {"secret/data/hvac-json/*": {"capabilities": ["read"]}}})
        self.assertIn("hvac-json", self.client.sys.list_policies()["data"]["policies"])
        self.client.sys.delete_policy("hvac-json")
        self.assertNotIn("hvac-json", self.client.sys.list_policies()["data"]["policies"])
        # A rule Coffer cannot enforce is refused, never widened.
        with self.assertRaises(exceptions.InvalidRequest):
            self.client.sys.create_or_update_policy("hvac-sys", 'path "sys/mounts" { capabilities = ["read"] }')

    def test_a_scoped_token_is_refused_outside_its_policy(self):
        kv = self.client.secrets.kv.v2
        kv.create_or_update_secret("hvac-scope/app", {"value": "inside"})
        kv.create_or_update_secret("hvac-other/app", {"value": "outside"})
        self.client.sys.create_or_update_policy("hvac-scope", 'path "secret/data/hvac-scope/*" { capabilities = ["read"] }')
        token = self.client.auth.token.create(policies=["hvac-scope"], ttl="5m")["auth"]
        self.assertIn("hvac-scope", token["policies"])
        scoped = hvac.Client(url=ADDR, token=token["client_token"]).secrets.kv.v2
        self.assertEqual(scoped.read_secret_version("hvac-scope/app")["data"]["data"], {"value": "inside"})
        with self.assertRaises(exceptions.Forbidden):
            scoped.read_secret_version("hvac-other/app")
        with self.assertRaises(exceptions.Forbidden):
            scoped.create_or_update_secret("hvac-scope/app", {"value": "written"})
        with self.assertRaises(exceptions.Forbidden):
            scoped.delete_metadata_and_all_versions("hvac-scope/app")
        self.assertEqual(kv.read_secret_version("hvac-scope/app")["data"]["data"], {"value": "inside"})


if __name__ == "__main__":
    unittest.main()
