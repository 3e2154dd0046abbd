"""Coffer's Python client: one stdlib-only module (Python 3.9+).

    import getpass
    from coffer import CofferError, Vault

    vault = Vault()                      # COFFER_ADDR, COFFER_TOKEN, COFFER_WORKSPACE
    vault.create_or_update_secret("OPENAI_KEY", getpass.getpass("Key: "))
    value, age_days = vault.get_secret("OPENAI_KEY")            # your personal secret
    value, age_days = vault.get_secret("SLACK_TOKEN", shared=True)

    db = vault.secrets.get("database-config")                   # the workspace's shared secrets
    connect(db.data.host, db.data["password"])
    for item in vault.secrets.list(prefix="payments/"):
        print(item.name, item.keys)                             # a list never carries values
    try:
        vault.secrets.update("database-config", {"password": new}, cas=db.version)
    except CofferError as error:
        print(error.code)                                       # VERSION_CONFLICT, ACCESS_DENIED, ...

Secret values travel only in JSON bodies: never in a URL, an exception
message or a repr (``repr(secret.data)`` shows ``****``).
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import random
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union
from urllib.parse import quote, urlencode

__all__ = [
    "Vault",
    "Secrets",
    "Secret",
    "SecretData",
    "SecretVersion",
    "CofferError",
    "InvalidRequest",
    "InvalidSecretType",
    "Unauthenticated",
    "AccessDenied",
    "NotFound",
    "SecretNotFound",
    "WorkspaceNotFound",
    "VersionNotFound",
    "SecretAlreadyExists",
    "VersionConflict",
    "RateLimited",
    "Unavailable",
]

__version__ = "0.1.0"

DEFAULT_ADDR = "http://127.0.0.1:8200"
DEFAULT_WORKSPACE = "default"
API = "/api/v1"


# ---------------------------------------------------------------------------
# Errors


class CofferError(Exception):
    """An error answered by the server (or a failure to reach it), with its stable ``code``.

    ``code`` is one of Coffer's error codes (SECRET_NOT_FOUND, ACCESS_DENIED,
    INVALID_SECRET_TYPE, ...) or UNAVAILABLE when the server could not be
    reached; ``status`` is the HTTP status (0 when there was no answer) and
    ``request_id`` identifies the request in the server's log.
    """

    def __init__(self, code: str, message: str, status: int, request_id: Optional[str] = None):
        super().__init__(code, message, status, request_id)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        suffix = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.code}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, status={self.status!r}, request_id={self.request_id!r})"


class InvalidRequest(CofferError):
    """INVALID_REQUEST: a malformed request or an invalid field; nothing was changed."""


class InvalidSecretType(CofferError):
    """INVALID_SECRET_TYPE: an unknown secret type, or an operation that does not apply to it."""


class Unauthenticated(CofferError):
    """UNAUTHENTICATED: the token is missing, malformed, unknown, expired or revoked."""


class AccessDenied(CofferError):
    """ACCESS_DENIED: the caller is known but not allowed to do this."""


class NotFound(CofferError):
    """NOT_FOUND and its more precise kinds below."""


class SecretNotFound(NotFound):
    """SECRET_NOT_FOUND: no secret with this id or name is visible to the caller."""


class WorkspaceNotFound(NotFound):
    """WORKSPACE_NOT_FOUND: no workspace with this id or name is visible to the caller."""


class VersionNotFound(NotFound):
    """VERSION_NOT_FOUND: the secret has no such version."""


class SecretAlreadyExists(CofferError):
    """SECRET_ALREADY_EXISTS: the name is taken (possibly by a soft-deleted secret)."""


class VersionConflict(CofferError):
    """VERSION_CONFLICT: check-and-set failed; the secret moved past the expected version."""


class RateLimited(CofferError):
    """RATE_LIMITED: still throttled after the client's retries."""


class Unavailable(CofferError):
    """UNAVAILABLE (status 0): the server could not be reached; SEALED (503): it cannot serve."""


_ERROR_CLASSES: Dict[str, type] = {
    "INVALID_REQUEST": InvalidRequest,
    "PAYLOAD_TOO_LARGE": InvalidRequest,
    "UNSUPPORTED_MEDIA_TYPE": InvalidRequest,
    "INVALID_SECRET_TYPE": InvalidSecretType,
    "UNAUTHENTICATED": Unauthenticated,
    "ACCESS_DENIED": AccessDenied,
    "NOT_FOUND": NotFound,
    "SECRET_NOT_FOUND": SecretNotFound,
    "WORKSPACE_NOT_FOUND": WorkspaceNotFound,
    "VERSION_NOT_FOUND": VersionNotFound,
    "SECRET_ALREADY_EXISTS": SecretAlreadyExists,
    "VERSION_CONFLICT": VersionConflict,
    "RATE_LIMITED": RateLimited,
    "SEALED": Unavailable,
    "UNAVAILABLE": Unavailable,
}


def _error(code: str, message: str, status: int, request_id: Optional[str] = None) -> CofferError:
    return _ERROR_CLASSES.get(code, CofferError)(code, message, status, request_id)


# ---------------------------------------------------------------------------
# Secrets


class SecretData(dict):
    """A secret's key/value pairs: a dict that also reads keys as attributes (``data.api_key``).

    Its repr masks the values, so printing or logging it never shows one.
    """

    def __getattr__(self, key: str) -> str:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"the secret has no key {key!r}") from None

    def __repr__(self) -> str:
        return "SecretData({" + ", ".join(f"{key!r}: '****'" for key in self) + "})"

    __str__ = __repr__


class Secret:
    """A secret's metadata and, when read (not listed), its ``data``.

    Attributes: ``id``, ``name``, ``scope`` ("shared" or "personal"), ``type``,
    ``label``, ``tags``, ``keys``, ``version``, ``created_at`` and
    ``updated_at`` (aware datetimes; ``updated_at`` is when this version's
    value was written), ``age_days``, ``deleted_at`` (None unless deleted) and
    ``data`` (a :class:`SecretData`, or None for list items).
    """

    __slots__ = ("id", "name", "scope", "type", "label", "tags", "keys", "version", "created_at", "updated_at", "age_days", "deleted_at", "data")

    def __init__(self, body: Mapping[str, Any]):
        self.id: str = body["id"]
        self.name: str = body["name"]
        self.scope: str = body.get("scope", "shared")
        self.type: str = body.get("type", "USER_DEFINED")
        self.label: str = body.get("label", "")
        self.tags: List[str] = list(body.get("tags") or [])
        self.keys: List[str] = list(body.get("keys") or [])
        self.version: int = body.get("version", 0)
        self.created_at: Optional[datetime] = _time(body.get("createdAt"))
        self.updated_at: Optional[datetime] = _time(body.get("updatedAt"))
        self.age_days: int = body.get("ageDays", 0)
        self.deleted_at: Optional[datetime] = _time(body.get("deletedAt"))
        data = body.get("data")
        self.data: Optional[SecretData] = SecretData(data) if data is not None else None

    @property
    def value(self) -> Union[str, SecretData, None]:
        """The single value of a one-key secret, else the whole ``data`` (None for list items)."""
        return _single(self.data) if self.data is not None else None

    def __repr__(self) -> str:
        return f"Secret(name={self.name!r}, id={self.id!r}, scope={self.scope!r}, type={self.type!r}, keys={self.keys!r}, version={self.version!r})"


class SecretVersion:
    """One entry of a secret's history: ``version``, ``keys``, ``created_at``, ``created_by``, ``current``."""

    __slots__ = ("version", "keys", "created_at", "created_by", "current")

    def __init__(self, body: Mapping[str, Any]):
        self.version: int = body["version"]
        self.keys: List[str] = list(body.get("keys") or [])
        self.created_at: Optional[datetime] = _time(body.get("createdAt"))
        self.created_by: str = body.get("createdBy", "")
        self.current: bool = bool(body.get("current"))

    def __repr__(self) -> str:
        return f"SecretVersion(version={self.version!r}, keys={self.keys!r}, current={self.current!r})"


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


# ---------------------------------------------------------------------------
# The client


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the token (and a body of values) somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib's signature
        return None


class Vault:
    """A Coffer client for one workspace.

    ``addr``, ``token`` and ``workspace`` default to COFFER_ADDR,
    COFFER_TOKEN and COFFER_WORKSPACE (else http://127.0.0.1:8200 and
    "default"). A 429 is retried up to ``max_retries`` times, honouring
    Retry-After; ``timeout`` is per request, in seconds.
    """

    def __init__(
        self,
        addr: Optional[str] = None,
        token: Optional[str] = None,
        workspace: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
    ):
        self.addr = (addr or os.environ.get("COFFER_ADDR") or DEFAULT_ADDR).rstrip("/")
        self.workspace = workspace or os.environ.get("COFFER_WORKSPACE") or DEFAULT_WORKSPACE
        self._token = token if token is not None else os.environ.get("COFFER_TOKEN")
        self.timeout = timeout
        self.max_retries = max_retries
        self._opener = urllib.request.build_opener(_NoRedirect())
        self.secrets = Secrets(self)

    def __repr__(self) -> str:
        return f"Vault(addr={self.addr!r}, workspace={self.workspace!r})"

    # Practicus' shape: one value per name, the caller's personal secret unless shared=True.

    def create_or_update_secret(self, name: str, key: str, shared: bool = False) -> None:
        """Stores ``key`` (the secret value) under ``name``: personal, or the workspace's with ``shared=True``."""
        self.secrets.update(name, {"value": key}, scope=_scope(shared))

    def get_secret(self, name: str, shared: bool = False) -> Tuple[Union[str, SecretData], int]:
        """``(value, age_days)``: the value of a one-key secret, else its whole key/value map."""
        secret = self.secrets.get(name, scope=_scope(shared))
        return _single(secret.data or SecretData()), secret.age_days

    def delete_secret(self, name: str, shared: bool = False, permanent: bool = False) -> None:
        """Deletes a personal secret, or the workspace's with ``shared=True`` (soft unless ``permanent``)."""
        self.secrets.delete(name, permanent=permanent, scope=_scope(shared))

    def whoami(self) -> Dict[str, Any]:
        """The calling token: principal, access, workspace and secret limits, expiry."""
        return self._request("GET", f"{API}/auth/token/self")

    # HTTP

    def _path(self, *parts: str) -> str:
        path = f"{API}/workspaces/{quote(self.workspace, safe='')}/{parts[0]}"
        for part in parts[1:]:
            path += "/" + quote(str(part), safe="")
        return path

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: Optional[Mapping[str, Any]] = None,
    ) -> Any:
        """Sends one request; returns the parsed JSON answer (None when empty) or raises CofferError."""
        params = [(key, _query_value(value)) for key, value in (query or {}).items() if value is not None]
        url = self.addr + path + ("?" + urlencode(params) if params else "")
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"accept": "application/json", "user-agent": f"coffer-python/{__version__}"}
        if payload is not None:
            headers["content-type"] = "application/json"
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(url, data=payload, headers=headers, method=method)
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    code, text = response.status, response.read().decode("utf-8")
            except urllib.error.HTTPError as error:
                code, text = error.code, _read(error)
                retry_after = error.headers.get("retry-after") if error.headers else None
                error.close()
                if code == 429 and attempt < self.max_retries:
                    time.sleep(_retry_delay(retry_after, attempt))
                    continue
                raise _redact(_error_of(code, text), body) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", None) or error
                raise _error("UNAVAILABLE", f"cannot reach Coffer at {self.addr}: {reason}", 0) from None
            if not text:
                return None
            try:
                return json.loads(text)
            except ValueError:
                raise _error("INTERNAL", f"HTTP {code} from the server with a body that is not JSON", code) from None
        raise AssertionError("unreachable")

    # The relay: Coffer makes an HTTP call with ``@{vault.NAME}`` / ``@{vault.NAME.KEY}``
    # placeholders replaced by values; the caller needs only ``use`` and never sees a value.

    def relay(
        self,
        method: str,
        url: str,
        headers: Optional[Mapping[str, str]] = None,
        body: Union[str, bytes, None] = None,
        scope: str = "shared",
    ) -> Dict[str, Any]:
        """Has Coffer send ``method url`` with placeholders in ``headers``, the query string or ``body`` filled in.

        Returns ``{"status", "headers", "body"}``: the upstream's answer with
        every referenced value replaced by its placeholder; ``body`` is a str,
        or bytes when the answer is binary. Each secret's relay policy must
        allow the destination, else DESTINATION_NOT_ALLOWED is raised and
        nothing was sent. An upstream error status is an answer, not an error.

            answer = vault.relay("GET", "https://api.openai.com/v1/models",
                                 headers={"Authorization": "Bearer @{vault.openai/api-key}"})
        """
        request: Dict[str, Any] = {"method": method.upper(), "url": url, "headers": dict(headers or {}), "scope": scope}
        if isinstance(body, bytes):
            request.update(body=base64.b64encode(body).decode("ascii"), bodyEncoding="base64")
        elif body is not None:
            request["body"] = body
        answer = self._request("POST", self._path("relay"), body=request)
        text = answer.get("body", "")
        return {
            "status": answer["status"],
            "headers": dict(answer.get("headers") or {}),
            "body": base64.b64decode(text) if answer.get("bodyEncoding") == "base64" else text,
        }

    def relay_policy(self, name: str, *, scope: str = "shared") -> Optional[Dict[str, Any]]:
        """Where the relay may send the secret ``name``: hosts, schemes, ports, methods, headers, query, body, addresses; None when it has no policy."""
        return self._request("GET", self._path("secrets", name, "metadata"), query={"scope": scope}).get("relayPolicy")

    def set_relay_policy(self, name: str, policy: Optional[Mapping[str, Any]], *, scope: str = "shared") -> Optional[Dict[str, Any]]:
        """Replaces the secret's relay policy (``hosts`` required, other fields default), or removes it with None; needs manage."""
        body = {"relayPolicy": None if policy is None else dict(policy)}
        return self._request("PATCH", self._path("secrets", name, "metadata"), query={"scope": scope}, body=body).get("relayPolicy")


# ---------------------------------------------------------------------------
# Helpers


def _scope(shared: bool) -> str:
    return "shared" if shared else "personal"


def _single(data: SecretData) -> Union[str, SecretData]:
    return next(iter(data.values())) if len(data) == 1 else data


def _time(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    # fromisoformat before 3.11 accepts neither "Z" nor other than 3 or 6 fraction digits.
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read(error: urllib.error.HTTPError) -> str:
    try:
        return error.read().decode("utf-8", "replace")
    except Exception:  # a body that cannot be read says no more than the status
        return ""


def _error_of(status: int, text: str) -> CofferError:
    try:
        error = json.loads(text)["error"]
        return _error(str(error["code"]), str(error.get("message", "")), status, error.get("requestId"))
    except (ValueError, KeyError, TypeError):
        if 300 <= status < 400:
            return _error("INVALID_REQUEST", f"HTTP {status} redirect from the server, not followed; check the address", status)
        return _error("INTERNAL" if status >= 500 else "INVALID_REQUEST", f"HTTP {status} from the server", status)


def _redact(error: CofferError, body: Optional[Mapping[str, Any]]) -> CofferError:
    """Masks any value this request sent, should a server message ever echo one."""
    data = (body or {}).get("data") or {}
    for value in data.values():
        if isinstance(value, str) and len(value) >= 4 and value in error.message:
            error.message = error.message.replace(value, "****")
    error.args = (error.code, error.message, error.status, error.request_id)
    return error


def _retry_delay(header: Optional[str], attempt: int) -> float:
    """Retry-After seconds when the server gives them (at most 60), else exponential backoff with jitter."""
    if header is not None:
        try:
            seconds = float(header)
            if seconds >= 0:
                return min(seconds, 60.0)
        except ValueError:
            pass
    return min(8.0, 0.25 * 2 ** attempt) * (0.5 + random.random() / 2)
