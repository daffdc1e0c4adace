"""Answers about a past moment, kept: revenue as known at T never changes once T is before the
ledger's last seal (every batch committed later is sealed at a later instant, so it is never known
at T), so a process asked the same question again, or for the next page of it, answers from memory."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class PastAnswers(Generic[T]):
    """The newest `size` answers by question, shared by the threads of one process."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, question: Hashable, compute: Callable[[], T]) -> T:
        """The kept answer to `question`, else `compute()`'s, kept (two threads asking at once may
        both compute it: the same answer)."""
        with self._lock:
            if question in self._kept:
                self._kept.move_to_end(question)
                return self._kept[question]
        found = compute()
        with self._lock:
            self._kept[question] = found
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return found
