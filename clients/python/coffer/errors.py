"""Coffer's errors: one class per stable error code, all of them CofferError."""
from __future__ import annotations

from typing import Dict, Optional


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


def error_for(code: str, message: str, status: int, request_id: Optional[str] = None) -> CofferError:
    """The CofferError subclass for ``code``, made."""
    return _ERROR_CLASSES.get(code, CofferError)(code, message, status, request_id)
