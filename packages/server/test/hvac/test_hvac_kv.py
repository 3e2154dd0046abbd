"""Coffer's /v1 spoken by hvac (Debian's python3-hvac, unchanged): KV v2, tokens, logins, mounts.

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


if __name__ == "__main__":
    unittest.main()
