"""``ModelCache``: the answerers ``answer()`` keeps loaded, least recently used dropped first."""

from __future__ import annotations

import collections
import threading

from electra_qa.settings import positive_int


class ModelCache:
    """Loaded models by key, at most ``size``. One lock per key: a call for a loaded model never waits for another
    model's load, and two calls for the same model load it once."""

    def __init__(self, size: int = 4):
        self.size = positive_int("size", size)
        self._models: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict = {}

    def get(self, key, load):
        """The model for ``key``, loaded with ``load()`` if it is not cached."""
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            try:
                with self._lock:
                    if key in self._models:
                        return self._models[key]
                model = load()
                with self._lock:
                    self._models[key] = model
                    self._evict()
                return model
            finally:
                with self._lock:
                    self._loading.pop(key, None)

    def resize(self, size: int) -> None:
        """Keep at most ``size`` models from now on, dropping the least recently used ones beyond it."""
        size = positive_int("size", size)
        with self._lock:
            self.size = size
            self._evict()

    def _evict(self) -> None:
        """Drop the least recently used models beyond ``size`` (the caller holds the lock)."""
        while len(self._models) > self.size:
            self._models.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._models.clear()

    def values(self) -> list:
        with self._lock:
            return list(self._models.values())

    def __len__(self) -> int:
        return len(self._models)
