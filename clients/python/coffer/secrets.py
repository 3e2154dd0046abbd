"""``vault.secrets``: the workspace's secrets as key/value maps (synchronous; AsyncVault wraps it)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional

from .models import Secret, SecretVersion

if TYPE_CHECKING:
    from .client import Vault


class Secrets:
    """``vault.secrets``: the workspace's secrets as key/value maps.

    Every method takes ``scope=`` ("shared", the default, or "personal").
    """

    #: Page size for :meth:`list`; it fetches every page.
    page_size = 1000

    def __init__(self, vault: "Vault"):
        self._vault = vault

    def list(
        self,
        prefix: Optional[str] = None,
        search: Optional[str] = None,
        *,
        recursive: Optional[bool] = None,
        deleted: Optional[str] = None,
        scope: Optional[str] = None,
    ) -> List[Secret]:
        """Every secret visible to the caller, all pages: names, keys, types, labels, ages; ``data`` is None.

        ``prefix`` is a folder ending in "/"; ``search`` a case-insensitive part
        of the name; ``deleted`` is "exclude" (default), "include" or "only".
        """
        items: List[Secret] = []
        cursor: Optional[str] = None
        while True:
            query = {"scope": scope, "prefix": prefix, "search": search, "recursive": recursive, "deleted": deleted, "limit": self.page_size, "cursor": cursor}
            page = self._vault._request("GET", self._vault._path("secrets"), query=query)
            items.extend(Secret(item) for item in page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return items

    def get_many(self, names: Iterable[str], *, scope: Optional[str] = None) -> List[Secret]:
        """Several secrets with their ``data`` in one request, all or nothing (at most 100 names or ids)."""
        body: Dict[str, Any] = {"names": list(names)}
        if scope is not None:
            body["scope"] = scope
        # A POST that only reads: safe to repeat on another address.
        answer = self._vault._request("POST", self._vault._path("secret-reads"), body=body, repeatable=True)
        return [Secret(item) for item in answer["secrets"]]

    def get(self, name_or_id: str, version: Optional[int] = None, *, scope: Optional[str] = None) -> Secret:
        """A secret with its ``data``: the current version, or ``version``."""
        return Secret(self._vault._request("GET", self._vault._path("secrets", name_or_id), query={"scope": scope, "version": version}))

    def create(
        self,
        name: str,
        data: Optional[Mapping[str, str]] = None,
        type: Optional[str] = None,
        label: Optional[str] = None,
        tags: Optional[Iterable[str]] = None,
        *,
        scope: Optional[str] = None,
    ) -> Secret:
        """Creates a secret; SECRET_ALREADY_EXISTS if the name is taken.

        ``type`` is USER_DEFINED (default), HMAC or INTERNAL_API_KEY; the
        generated types need no ``data`` (the server makes the value).
        """
        body: Dict[str, Any] = {"name": name}
        if data is not None:
            body["data"] = dict(data)
        for field, value in (("scope", scope), ("type", type), ("label", label), ("tags", None if tags is None else list(tags))):
            if value is not None:
                body[field] = value
        return Secret(self._vault._request("POST", self._vault._path("secrets"), body=body))

    def update(
        self,
        name: str,
        data: Mapping[str, Optional[str]],
        cas: Optional[int] = None,
        merge: bool = False,
        *,
        label: Optional[str] = None,
        tags: Optional[Iterable[str]] = None,
        type: Optional[str] = None,
        scope: Optional[str] = None,
    ) -> Secret:
        """Writes a new version and returns the secret.

        By default replaces every key/value pair, creating the secret if the
        name is new. With ``merge=True`` sets only the given keys (None removes
        a key). ``cas`` fails with VERSION_CONFLICT unless the secret is still
        at that version.
        """
        body: Dict[str, Any] = {"data": dict(data)}
        for field, value in (("cas", cas), ("label", label), ("tags", None if tags is None else list(tags))):
            if value is not None:
                body[field] = value
        if merge:
            if type is not None:
                raise ValueError("type applies only when update() creates the secret, not with merge=True")
            method = "PATCH"
        else:
            method = "PUT"
            if type is not None:
                body["type"] = type
        return Secret(self._vault._request(method, self._vault._path("secrets", name), query={"scope": scope}, body=body))

    def delete(self, name: str, permanent: bool = False, *, scope: Optional[str] = None) -> None:
        """Soft-deletes a secret (an admin can restore it), or with ``permanent=True`` destroys every version."""
        self._vault._request("DELETE", self._vault._path("secrets", name), query={"scope": scope, "permanent": True if permanent else None})

    def versions(self, name: str, *, scope: Optional[str] = None) -> List[SecretVersion]:
        """The secret's versions, newest first (metadata only)."""
        body = self._vault._request("GET", self._vault._path("secrets", name, "versions"), query={"scope": scope})
        return [SecretVersion(item) for item in body["versions"]]

    def rollback(self, name: str, version: int, cas: Optional[int] = None, *, scope: Optional[str] = None) -> Secret:
        """Writes a new version equal to ``version``."""
        body: Dict[str, Any] = {"version": version}
        if cas is not None:
            body["cas"] = cas
        return Secret(self._vault._request("POST", self._vault._path("secrets", name, "rollback"), query={"scope": scope}, body=body))
