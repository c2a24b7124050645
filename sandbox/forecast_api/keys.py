"""The company's API keys: which are active and whose they are. Keys are secrets: nothing here hands
one back, and callers must not log, echo or record them."""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass

from .store import OWNER_ID

DEFAULT_API_KEY = "sandbox-forecast-key"  # the sandbox's documented default


@dataclass
class _Key:
    secret: str
    owner: int
    active: bool


class ApiKeys:
    """Thread-safe set of keys, starting with `initial` (active, owned by person 1)."""

    def __init__(self, initial: str = DEFAULT_API_KEY):
        self._initial = initial
        self._lock = threading.Lock()
        self._keys: list[_Key] = []
        self.reset()

    def reset(self) -> None:
        """Back to the initial key alone, active."""
        with self._lock:
            self._keys = [_Key(self._initial, OWNER_ID, True)]

    def set(self, secret: str, *, active: bool = True, owner: int = OWNER_ID) -> None:
        """Add a key, or (de)activate one already there."""
        if not isinstance(secret, str) or not secret:
            raise ValueError("a key is a non-empty string")
        with self._lock:
            for key in self._keys:
                if hmac.compare_digest(key.secret.encode(), secret.encode()):
                    key.active, key.owner = active, owner
                    return
            self._keys.append(_Key(secret, owner, active))

    def owner(self, presented: str | None) -> int | None:
        """The person id owning `presented` if it is an active key, else None."""
        if not presented:
            return None
        with self._lock:
            # compare with every key, in constant time, so timing tells nothing about them
            found = [k for k in self._keys if hmac.compare_digest(k.secret.encode(), presented.encode())]
        return found[0].owner if found and found[0].active else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            active = sum(key.active for key in self._keys)
            return {"active": active, "inactive": len(self._keys) - active}
