"""The one HTTP transport that Vault and AsyncVault share (AsyncVault runs it in a thread).

It sends a request to one of the client's addresses, never follows a
redirect, retries a 429 after its Retry-After, turns error bodies into
CofferError and masks any value of the request a server message might echo.

Failover across addresses (``COFFER_ADDR=http://a:8200,http://b:8200``) is
limited to calls that are safe to repeat: when the connection fails before
the request left (refused, unknown host), any call moves on to the next
address; when it fails later (reset, timeout), the server may have acted on
it, so only reads move on. The address that answered last is tried first
next time, so a dead node costs one failed connection, not one per call.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import socket
import time
import urllib.error
import urllib.request
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode

from .errors import CofferError, error_for

DEFAULT_ADDR = "http://127.0.0.1:8200"

#: Connection failures that happen before any byte of the request is sent.
_NOT_SENT = (ConnectionRefusedError, socket.gaierror)

#: Methods that are safe to repeat unless a call says otherwise.
_SAFE_METHODS = ("GET", "HEAD")


def parse_addresses(addr: Union[str, Sequence[str], None]) -> List[str]:
    """``addr``, else COFFER_ADDR, else the default: one address or several, comma-separated or a list."""
    raw = addr or os.environ.get("COFFER_ADDR") or DEFAULT_ADDR
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    addresses = [part.strip().rstrip("/") for part in parts if part.strip()]
    if not addresses:
        raise ValueError("no Coffer address given")
    return addresses


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the token (and a body of values) somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib's signature
        return None


class Transport:
    """Sends requests for one client: its addresses, token, timeout and 429 retries."""

    def __init__(self, addresses: List[str], token: Optional[str], timeout: float, max_retries: int, user_agent: str):
        self.addresses = addresses
        self.token = token
        self.timeout = timeout
        self.max_retries = max_retries
        self.user_agent = user_agent
        self.opener = urllib.request.build_opener(_NoRedirect())
        # Index of the address that answered last; a plain int, so threads (AsyncVault) may share it.
        self.preferred = 0

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: Optional[Mapping[str, Any]] = None,
        repeatable: Optional[bool] = None,
    ) -> Any:
        """Sends one request; returns the parsed JSON answer (None when empty) or raises CofferError.

        ``repeatable`` says the call is safe to send twice (default: GET and
        HEAD are); only such calls fail over after a connection that broke
        once the request was sent.
        """
        params = [(key, _query_value(value)) for key, value in (query or {}).items() if value is not None]
        target = path + ("?" + urlencode(params) if params else "")
        payload = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"accept": "application/json", "user-agent": self.user_agent}
        if payload is not None:
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        safe = method in _SAFE_METHODS if repeatable is None else repeatable
        for attempt in range(self.max_retries + 1):
            code, text, retry_after = self._send(method, target, payload, headers, safe)
            if code == 429 and attempt < self.max_retries:
                time.sleep(_retry_delay(retry_after, attempt))
                continue
            if code >= 300:
                raise _redact(_error_of(code, text), body)
            if not text:
                return None
            try:
                return json.loads(text)
            except ValueError:
                raise error_for("INTERNAL", f"HTTP {code} from the server with a body that is not JSON", code) from None
        raise AssertionError("unreachable")

    def _send(self, method: str, target: str, payload: Optional[bytes], headers: Mapping[str, str], repeatable: bool) -> Tuple[int, str, Optional[str]]:
        """(status, body, Retry-After) from the first address that answers, in failover order."""
        failures: List[str] = []
        count = len(self.addresses)
        start = self.preferred
        for step in range(count):
            index = (start + step) % count
            address = self.addresses[index]
            request = urllib.request.Request(address + target, data=payload, headers=dict(headers), method=method)
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    answer = (response.status, response.read().decode("utf-8"), None)
            except urllib.error.HTTPError as error:
                answer = (error.code, _read(error), error.headers.get("retry-after") if error.headers else None)
                error.close()
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", None) or error
                failures.append(f"{address}: {reason}")
                if repeatable or isinstance(reason, _NOT_SENT):
                    continue
                if step + 1 < count:
                    failures.append("not tried elsewhere: the request may have reached the server and is not safe to repeat")
                break
            self.preferred = index
            return answer
        raise error_for("UNAVAILABLE", "cannot reach Coffer at " + "; ".join(failures), 0)


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
        return error_for(str(error["code"]), str(error.get("message", "")), status, error.get("requestId"))
    except (ValueError, KeyError, TypeError):
        if 300 <= status < 400:
            return error_for("INVALID_REQUEST", f"HTTP {status} redirect from the server, not followed; check the address", status)
        return error_for("INTERNAL" if status >= 500 else "INVALID_REQUEST", f"HTTP {status} from the server", status)


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
