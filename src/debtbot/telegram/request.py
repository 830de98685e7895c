"""Bot API requests with their parameters as a JSON body, over aiohttp.

The Bot API takes application/json for every method but uploads. python-telegram-bot's
HTTPXRequest sends a form instead, and httpx percent-encodes a form in Python, one byte at a
time: for a /debts page (2–3 KB of HTML in which Greek letters and the euro sign are several
bytes each) that cost more than building the page, and the server then has to decode it.
Here a request is the parameters as one JSON object (reply markup and other objects nested,
not JSON-in-a-string); uploads still go as multipart forms.

The client is aiohttp's, as for the outbox (telegram.sender.BotApiSender): httpx's pool
(httpcore) asks every pooled socket whether it is still readable on each request, and with
its anyio layers it cost the bot process about 1 ms of CPU per reply, as much as all the rest of
a bare echo bot's work (bench/chat_bench.py, README). Timeouts and errors keep
HTTPXRequest's meaning: a request that never left is TimedOut or NetworkError, one that left
and got no answer in time is TimedOutAfterSending.

A message the bot sent or edited comes back from Telegram with the bot's own keyboard in it;
python-telegram-bot would build every button of it again (a /debts page: eleven). That
keyboard is dropped from the answer before it is parsed: the Message a send returns has
reply_markup None (the bot knows what it sent; nothing reads it back).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = {"Content-Type": "application/json"}


class TimedOutAfterSending(TimedOut):
    """The request went out and no answer came in time: Telegram may have acted on it."""

    def __init__(self) -> None:
        super().__init__("Timed out waiting for the answer; the request may have been handled")


_UNSET = type(BaseRequest.DEFAULT_NONE)  # a timeout the caller did not give


class JsonRequest(BaseRequest):
    """A BaseRequest on aiohttp (HTTP/1.1, a pool of `connection_pool_size` connections).

    Timeouts as HTTPXRequest's: `pool_timeout` to get a connection from the pool,
    `connect_timeout` to open one, `read_timeout` between bytes of the answer. aiohttp has no
    write timeout: the body's write is bounded by the read timeout that follows it (for an
    upload, `media_write_timeout` when larger)."""

    def __init__(
        self,
        *,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._pool_size = connection_pool_size
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        answer = BaseRequest.parse_json_payload(payload)
        result = answer.get("result") if isinstance(answer, dict) else None
        if isinstance(result, dict) and "message_id" in result and "chat" in result:
            result.pop("reply_markup", None)  # the bot's own keyboard, echoed back
        return answer

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0),
                cookie_jar=aiohttp.DummyCookieJar(),  # the Bot API sets none
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This JsonRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        if uploads:
            write = _given(write_timeout, self._media_write_timeout)
            read = None if read is None or write is None else max(read, write)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,
            # aiohttp's `connect` covers waiting for the pool and opening the connection.
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        body: dict[str, Any] = {}
        if request_data is not None and uploads:
            body = {"data": _form(request_data)}
        elif request_data is not None:
            payload = json.dumps(request_data.parameters, ensure_ascii=False).encode()
            body = {"data": payload, "headers": _JSON}
        try:
            async with session.request(method, url, timeout=timeout, **body) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise TimedOut(
                "Connect or pool timeout: no connection in time; the request was not sent"
            ) from exc
        except aiohttp.ClientConnectorError as exc:  # none could be opened: not sent either
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        except TimeoutError as exc:
            raise TimedOutAfterSending from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc


def _given(value: Any, default: float | None) -> float | None:
    return default if isinstance(value, _UNSET) else value  # type: ignore[no-any-return]


def _form(request_data: RequestData) -> aiohttp.FormData:
    """An upload as a multipart form: the parameters as fields, the files as file parts."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
