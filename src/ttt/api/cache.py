"""A small thread-safe LRU of parsed files, keyed by (path, mtime, size): a file rewritten
atomically gets a new key, so readers never see a stale parse."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class FileCache:
    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str, int, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tag: str, path: Path, load: Callable[[Path], T]) -> T:
        """``load(path)``, cached under ``tag`` until the file changes."""
        st = path.stat()
        key = (tag, str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                cached: T = self._items[key]
                return cached
        value = load(path)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value
