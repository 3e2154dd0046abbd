"""The synchronous client, ``Vault``; ``AsyncVault`` (aio.py) wraps it."""
from __future__ import annotations

import base64
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote

from ._transport import Transport, parse_addresses
from ._version import __version__
from .models import SecretData, SecretsView, _single
from .secrets import Secrets

DEFAULT_WORKSPACE = "default"
API = "/api/v1"


class Vault:
    """A Coffer client for one workspace.

    ``addr``, ``token`` and ``workspace`` default to COFFER_ADDR,
    COFFER_TOKEN and COFFER_WORKSPACE (else http://127.0.0.1:8200 and
    "default"). ``addr`` may list several servers, comma-separated or as a
    sequence; calls that are safe to repeat fail over between them. A 429 is
    retried up to ``max_retries`` times, honouring Retry-After; ``timeout`` is
    per request (and per address tried), in seconds.
    """

    def __init__(
        self,
        addr: Union[str, Sequence[str], None] = None,
        token: Optional[str] = None,
        workspace: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
    ):
        self.workspace = workspace or os.environ.get("COFFER_WORKSPACE") or DEFAULT_WORKSPACE
        self._transport = Transport(
            parse_addresses(addr),
            token if token is not None else os.environ.get("COFFER_TOKEN"),
            timeout,
            max_retries,
            f"coffer-python/{__version__}",
        )
        self.secrets = Secrets(self)

    @property
    def addr(self) -> str:
        """The address tried first: the one that answered last."""
        return self._transport.addresses[self._transport.preferred]

    @property
    def addrs(self) -> List[str]:
        """Every address this client may use, in the order given."""
        return list(self._transport.addresses)

    def __repr__(self) -> str:
        return f"Vault(addrs={self.addrs!r}, workspace={self.workspace!r})"

    # Practicus' shape: one value per name, the caller's personal secret unless shared=True.

    def create_or_update_secret(self, name: str, key: str, shared: bool = False) -> None:
        """Stores ``key`` (the secret value) under ``name``: personal, or the workspace's with ``shared=True``."""
        self.secrets.update(name, {"value": key}, scope=scope_of(shared))

    def get_secret(self, name: str, shared: bool = False) -> Tuple[Union[str, SecretData], int]:
        """``(value, age_days)``: the value of a one-key secret, else its whole key/value map."""
        secret = self.secrets.get(name, scope=scope_of(shared))
        return _single(secret.data or SecretData()), secret.age_days

    def delete_secret(self, name: str, shared: bool = False, permanent: bool = False) -> None:
        """Deletes a personal secret, or the workspace's with ``shared=True`` (soft unless ``permanent``)."""
        self.secrets.delete(name, permanent=permanent, scope=scope_of(shared))

    # Scoped use: values for one block of code, as the TypeScript SDK's withSecrets.

    @contextmanager
    def with_secrets(self, names: Iterable[str], *, shared: bool = True) -> Iterator[SecretsView]:
        """Yields a read-only mapping of the named secrets (fetched in one request), valid for the ``with`` block.

        ``secrets["ACME_API_KEY"]`` is a one-value secret's string, or a
        secret's :class:`SecretData`; the workspace's secrets unless
        ``shared=False`` (your personal ones). When the block ends the mapping
        is emptied and reading it raises.
        """
        view = SecretsView(self.secrets.get_many(names, scope=scope_of(shared)))
        try:
            yield view
        finally:
            view.close()

    def whoami(self) -> Dict[str, Any]:
        """The calling token: principal, access, workspace and secret limits, expiry."""
        return self._request("GET", f"{API}/auth/token/self")

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
        repeatable: Optional[bool] = None,
    ) -> Any:
        """Sends one request (see Transport.request); returns the parsed JSON answer or raises CofferError."""
        return self._transport.request(method, path, query=query, body=body, repeatable=repeatable)


def scope_of(shared: bool) -> str:
    return "shared" if shared else "personal"

