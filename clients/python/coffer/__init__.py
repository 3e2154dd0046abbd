"""Coffer's Python client: stdlib only (Python 3.9+), synchronous and asyncio.

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

    with vault.with_secrets(["ACME_API_KEY"]) as secrets:      # a read-only mapping for one block
        call_acme(secrets["ACME_API_KEY"])

    from coffer import AsyncVault                              # the same methods, awaited
    platform = AsyncVault()
    items = await platform.secrets.list()
    async with platform.with_secrets(["ACME_API_KEY"]) as secrets:
        await handler(secrets)

COFFER_ADDR may name several servers (``http://a:8200,http://b:8200``): a
call that is safe to repeat moves on to the next one when a connection fails.
Secret values travel only in JSON bodies: never in a URL, an exception
message or a repr (``repr(secret.data)`` shows ``****``).
"""
from __future__ import annotations

from ._version import __version__
from .aio import AsyncSecrets, AsyncVault
from .client import Vault
from .errors import (
    AccessDenied,
    CofferError,
    InvalidRequest,
    InvalidSecretType,
    NotFound,
    RateLimited,
    SecretAlreadyExists,
    SecretNotFound,
    Unauthenticated,
    Unavailable,
    VersionConflict,
    VersionNotFound,
    WorkspaceNotFound,
)
from .models import Secret, SecretData, SecretsView, SecretVersion
from .secrets import Secrets

__all__ = [
    "Vault",
    "AsyncVault",
    "Secrets",
    "AsyncSecrets",
    "Secret",
    "SecretData",
    "SecretsView",
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
