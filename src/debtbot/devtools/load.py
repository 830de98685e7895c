"""Drive many users through a FakeBotApi and measure how fast the bot answers.

    result = await run_load(api, chat_ids=range(1, 1001), text="/debts",
                            n_updates=10_000, concurrency=200)
    print(result.updates_per_second, result.p50_ms, result.p99_ms)

Each user waits for the bot's answer before writing again (one update in flight per chat);
`concurrency` users write at the same time. Latency runs from handing the update to the server
(getUpdates or the webhook then carry it) to the bot's first message in that chat.
`cpu_ms_per_update` (CPU time of the whole process per answered update) is the figure that
holds up on a busy machine; wall-clock rates and latencies vary with the load around.

`run_load` is a closed loop: `concurrency` users always have an update in flight, so it finds
the saturated throughput, and its latency is mostly queueing (Little's law: mean latency =
concurrency / throughput). `run_open_loop` offers a fixed rate instead (Poisson arrivals,
each from a user with nothing in flight), as real users do, whatever the bot's speed: its
latency is what a user sees at that load.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

from debtbot.devtools.botapi import BotMessage, FakeBotApi


@dataclass(frozen=True, slots=True)
class LoadResult:
    updates_per_second: float
    p50_ms: float
    p99_ms: float
    updates: int = 0
    answered: int = 0
    timeouts: int = 0
    seconds: float = 0.0
    max_ms: float = 0.0
    cpu_ms_per_update: float = 0.0  # this process's CPU time (server, bot and users) / answers
    offered_per_second: float = 0.0  # run_open_loop: the arrival rate asked for


def _result(
    latencies_ms: list[float], n_updates: int, timeouts: int, started: float,
    cpu_started: float, *, offered: float = 0.0,
) -> LoadResult:
    """The figures of a run that began at `started` (perf_counter, process_time)."""
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    ordered = sorted(latencies_ms)
    return LoadResult(
        updates_per_second=len(ordered) / seconds if seconds else 0.0,
        p50_ms=_percentile(ordered, 0.50),
        p99_ms=_percentile(ordered, 0.99),
        updates=n_updates,
        answered=len(ordered),
        timeouts=timeouts,
        seconds=seconds,
        max_ms=ordered[-1] if ordered else float("nan"),
        cpu_ms_per_update=cpu_seconds * 1000 / len(ordered) if ordered else float("nan"),
        offered_per_second=offered,
    )


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def run_load(
    api: FakeBotApi,
    chat_ids: Iterable[int],
    text: str,
    n_updates: int,
    concurrency: int,
    *,
    replies_per_update: int = 1,
    reply_timeout: float = 30.0,
    language_code: str = "en",
) -> LoadResult:
    """Send `n_updates` messages `text`, spread evenly over the chats; measure the answers.

    `replies_per_update`: how many messages the bot sends per update (the next update from
    that chat waits for all of them, so replies are never confused between updates).
    """
    chats = list(chat_ids)
    if not chats or n_updates <= 0:
        raise ValueError("need at least one chat and one update")
    per_chat = {chat: n_updates // len(chats) for chat in chats}
    for chat in chats[: n_updates % len(chats)]:
        per_chat[chat] += 1
    work: asyncio.Queue[int] = asyncio.Queue()
    for chat in chats:
        if per_chat[chat]:
            work.put_nowait(chat)

    loop = asyncio.get_running_loop()
    waiting: dict[int, tuple[asyncio.Future[None], list[int]]] = {}
    first_reply_at: dict[int, float] = {}
    latencies_ms: list[float] = []
    timeouts = 0

    def on_message(kind: str, message: BotMessage) -> None:
        entry = waiting.get(message.chat_id)
        if kind != "sent" or entry is None:
            return
        future, remaining = entry
        if remaining[0] == replies_per_update:
            first_reply_at[message.chat_id] = time.perf_counter()
        remaining[0] -= 1
        if remaining[0] <= 0 and not future.done():
            future.set_result(None)

    async def user(chat: int) -> None:
        nonlocal timeouts
        for _ in range(per_chat[chat]):
            future: asyncio.Future[None] = loop.create_future()
            waiting[chat] = (future, [replies_per_update])
            sent_at = time.perf_counter()
            await api.user_sends(chat, text, language_code=language_code)
            try:
                await asyncio.wait_for(future, reply_timeout)
            except TimeoutError:
                timeouts += 1
                continue
            finally:
                waiting.pop(chat, None)
            latencies_ms.append((first_reply_at.pop(chat) - sent_at) * 1000)

    async def worker() -> None:
        while True:
            try:
                chat = work.get_nowait()
            except asyncio.QueueEmpty:
                return
            await user(chat)

    api.add_listener(on_message)
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    finally:
        api.remove_listener(on_message)
    return _result(latencies_ms, n_updates, timeouts, started, cpu_started)


async def run_open_loop(
    api: FakeBotApi,
    chat_ids: Iterable[int],
    text: str,
    n_updates: int,
    rate: float,
    *,
    reply_timeout: float = 30.0,
    language_code: str = "en",
    seed: int = 1,
) -> LoadResult:
    """Send `n_updates` messages `text` at `rate` per second on average (exponential gaps,
    fixed by `seed`), each from the next user with no update in flight; measure the answers.

    Arrivals do not wait for answers: when the bot falls behind, updates queue up and their
    latency grows, as it would for real users.
    """
    chats = list(chat_ids)
    if not chats or n_updates <= 0 or rate <= 0:
        raise ValueError("need at least one chat, one update and a positive rate")
    loop = asyncio.get_running_loop()
    gaps = random.Random(seed)  # noqa: S311 - arrival times, not secrets
    free = list(reversed(chats))
    freed = asyncio.Event()
    waiting: dict[int, tuple[asyncio.Future[float], float]] = {}
    latencies_ms: list[float] = []
    timeouts = 0

    def on_message(kind: str, message: BotMessage) -> None:
        entry = waiting.get(message.chat_id)
        if kind == "sent" and entry is not None and not entry[0].done():
            entry[0].set_result(time.perf_counter())

    async def user(chat: int, sent_at: float) -> None:
        nonlocal timeouts
        future: asyncio.Future[float] = loop.create_future()
        waiting[chat] = (future, sent_at)
        await api.user_sends(chat, text, language_code=language_code)
        try:
            answered_at = await asyncio.wait_for(future, reply_timeout)
            latencies_ms.append((answered_at - sent_at) * 1000)
        except TimeoutError:
            timeouts += 1
        finally:
            waiting.pop(chat, None)
            free.insert(0, chat)
            freed.set()

    api.add_listener(on_message)
    tasks: set[asyncio.Task[None]] = set()
    started, cpu_started = time.perf_counter(), time.process_time()
    due = started
    try:
        for _ in range(n_updates):
            due += gaps.expovariate(rate)
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            while not free:  # every user waits for an answer: the arrival waits for one
                freed.clear()
                await freed.wait()
            task = loop.create_task(user(free.pop(), time.perf_counter()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
    finally:
        api.remove_listener(on_message)
    return _result(latencies_ms, n_updates, timeouts, started, cpu_started, offered=rate)
