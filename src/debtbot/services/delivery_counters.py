"""Delivery counted as it happens, for Prometheus counters that only go up.

Counting outbox rows by state goes down when the nightly purge deletes old rows; these go up
by one each time the sender settles a message (and start again at zero with the process,
which Prometheus reads as a counter reset). One object per process, held by Deps.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable


class DeliveryCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (purpose, sent|failed|blocked)
        self.rate_limited = 0  # 429 answers from Telegram

    def settled(self, purposes: Iterable[str], outcome: str) -> None:
        with self._lock:
            for purpose in purposes:
                self.outcomes[(purpose, outcome)] += 1

    def flood_wait(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def snapshot(self) -> tuple[dict[tuple[str, str], int], int]:
        with self._lock:
            return dict(self.outcomes), self.rate_limited
