"""What the server answers, as Python objects: secrets, their key/value data, versions."""
from __future__ import annotations

from datetime import datetime
from collections.abc import Mapping as MappingABC
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Union


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


class SecretsView(MappingABC[str, Union[str, SecretData]]):
    """The read-only mapping ``with_secrets`` yields: ``vault["ACME_API_KEY"]``, ``vault.get(name)``.

    A one-key secret whose key is ``value`` maps to that string, any other to
    its :class:`SecretData`. The mapping is valid for one block: when the
    block ends it is emptied (the :class:`SecretData` it handed out too) and
    reading it raises, so values do not outlive the code that needed them.
    Its repr shows names only.
    """

    __slots__ = ("_values", "_open")

    def __init__(self, secrets: Iterable[Secret]):
        self._values: Dict[str, Union[str, SecretData]] = {}
        for secret in secrets:
            data = secret.data or SecretData()
            self._values[secret.name] = data["value"] if list(data) == ["value"] else SecretData(data)
        self._open = True

    def __getitem__(self, name: str) -> Union[str, SecretData]:
        self._check()
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        self._check()
        return iter(list(self._values))

    def __len__(self) -> int:
        self._check()
        return len(self._values)

    def __setitem__(self, name: str, value: Any) -> None:
        raise TypeError("the secrets mapping is read-only")

    def __delitem__(self, name: str) -> None:
        raise TypeError("the secrets mapping is read-only")

    def __repr__(self) -> str:
        return f"SecretsView({list(self._values)!r})" if self._open else "SecretsView(<closed>)"

    __str__ = __repr__

    def close(self) -> None:
        """Ends the block: empties the mapping and every key/value map it handed out."""
        for value in self._values.values():
            if isinstance(value, SecretData):
                value.clear()
        self._values.clear()
        self._open = False

    def _check(self) -> None:
        if not self._open:
            raise RuntimeError("the with_secrets() mapping is valid only inside its block")


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
