"""``AsyncVault``: the same client for asyncio code, ``await``-ed.

Each call runs the synchronous client in a worker thread
(``asyncio.to_thread``), so the event loop never blocks and one transport
(redirect refusal, 429 retries, failover, value masking) serves both clients.
A small asyncio HTTP/1.1 client would save the thread, but would be a second
implementation of TLS, proxies and HTTP framing to keep right, for calls
whose cost is the network round trip anyway. Calls in flight are bounded by
the loop's default executor (``min(32, CPU count + 4)`` threads); cancelling
an awaited call abandons its answer, not the request already sent.
"""
from __future__ import annotations

import asyncio
import functools
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Coroutine, Iterable, List, Optional, Sequence, TypeVar, Union

from .client import Vault, scope_of
from .models import SecretsView
from .secrets import Secrets

if TYPE_CHECKING:
    if sys.version_info >= (3, 10):
        from typing import Concatenate, ParamSpec
    else:
        from typing_extensions import Concatenate, ParamSpec
    P = ParamSpec("P")

T = TypeVar("T")


def _threaded(method: "Callable[Concatenate[Any, P], T]") -> "Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]":
    """The awaitable twin of a synchronous client method: same signature and docstring, run in a thread."""

    @functools.wraps(method)
    async def run(self: Any, *args: "P.args", **kwargs: "P.kwargs") -> T:
        return await asyncio.to_thread(method, self._sync, *args, **kwargs)

    return run


class AsyncSecrets:
    """``await vault.secrets.list()``, ``get(name)``, ``create(name, data)``, ``update``, ``delete``: as :class:`Secrets`."""

    def __init__(self, secrets: Secrets):
        self._sync = secrets

    list = _threaded(Secrets.list)
    get_many = _threaded(Secrets.get_many)
    get = _threaded(Secrets.get)
    create = _threaded(Secrets.create)
    update = _threaded(Secrets.update)
    delete = _threaded(Secrets.delete)
    versions = _threaded(Secrets.versions)
    rollback = _threaded(Secrets.rollback)


class AsyncVault:
    """An asyncio Coffer client for one workspace: the methods of :class:`Vault`, awaited.

    Takes the same arguments as :class:`Vault` (addresses, token, workspace,
    ``timeout``, ``max_retries``) and the same environment defaults.
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
        self._sync = Vault(addr, token, workspace, timeout=timeout, max_retries=max_retries)
        self.secrets = AsyncSecrets(self._sync.secrets)

    @property
    def workspace(self) -> str:
        return self._sync.workspace

    @property
    def addr(self) -> str:
        """The address tried first: the one that answered last."""
        return self._sync.addr

    @property
    def addrs(self) -> List[str]:
        """Every address this client may use, in the order given."""
        return self._sync.addrs

    def __repr__(self) -> str:
        return f"AsyncVault(addrs={self.addrs!r}, workspace={self.workspace!r})"

    create_or_update_secret = _threaded(Vault.create_or_update_secret)
    get_secret = _threaded(Vault.get_secret)
    delete_secret = _threaded(Vault.delete_secret)
    whoami = _threaded(Vault.whoami)
    _request = _threaded(Vault._request)

    @asynccontextmanager
    async def with_secrets(self, names: Iterable[str], *, shared: bool = True) -> AsyncIterator[SecretsView]:
        """``async with vault.with_secrets([...]) as secrets``: as :meth:`Vault.with_secrets`, fetched without blocking the loop."""
        view = SecretsView(await self.secrets.get_many(names, scope=scope_of(shared)))
        try:
            yield view
        finally:
            view.close()
