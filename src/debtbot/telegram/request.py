"""Bot API requests with their parameters as a JSON body.

The Bot API takes application/json for every method but uploads. python-telegram-bot's
HTTPXRequest sends a form instead, and httpx percent-encodes a form in Python, one byte at a
time: for a /debts page (2–3 KB of HTML in which Greek letters and the euro sign are several
bytes each) that cost more than building the page, and the server then has to decode it.
Here a request is the parameters as one JSON object (reply markup and other objects nested,
not JSON-in-a-string); uploads still go as multipart forms. Timeouts and errors are handled as HTTPXRequest handles them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = {"Content-Type": "application/json"}


class TimedOutAfterSending(TimedOut):
    """The request went out and no answer came in time: Telegram may have acted on it."""

    def __init__(self) -> None:
        super().__init__("Timed out waiting for the answer; the request may have been handled")
_UNSET = type(BaseRequest.DEFAULT_NONE)  # a timeout the caller did not give


class JsonRequest(BaseRequest):
    """A BaseRequest on httpx (HTTP/1.1, a pool of `connection_pool_size` connections)."""

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
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._media_write_timeout = media_write_timeout
        self._limits = httpx.Limits(
            max_connections=connection_pool_size, max_keepalive_connections=connection_pool_size
        )
        self._client: httpx.AsyncClient | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeout.read

    async def initialize(self) -> None:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=self._timeout, limits=self._limits, http1=True, http2=False
            )

    async def shutdown(self) -> None:
        if self._client is not None and not self._client.is_closed:
            await self._client.aclose()

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
        client = self._client
        if client is None or client.is_closed:
            raise RuntimeError("This JsonRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        timeout = httpx.Timeout(
            connect=self._given(connect_timeout, self._timeout.connect),
            read=self._given(read_timeout, self._timeout.read),
            write=self._given(
                write_timeout, self._media_write_timeout if uploads else self._timeout.write
            ),
            pool=self._given(pool_timeout, self._timeout.pool),
        )
        body: dict[str, Any] = {}
        if request_data is not None and uploads:
            body = {"files": request_data.multipart_data, "data": request_data.json_parameters}
        elif request_data is not None:
            payload = json.dumps(request_data.parameters, ensure_ascii=False).encode()
            body = {"content": payload, "headers": _JSON}
        try:
            response = await client.request(method=method, url=url, timeout=timeout, **body)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.PoolTimeout):
                raise TimedOut(
                    "Pool timeout: all connections in the pool are in use; the request was not "
                    "sent"
                ) from exc
            if isinstance(exc, httpx.ConnectTimeout):
                raise TimedOut("Connect timeout: the request was not sent") from exc
            raise TimedOutAfterSending from exc
        except httpx.HTTPError as exc:
            raise NetworkError(f"httpx.{exc.__class__.__name__}: {exc}") from exc
        return response.status_code, response.content

    @staticmethod
    def _given(value: Any, default: float | None) -> float | None:
        return default if isinstance(value, _UNSET) else value  # type: ignore[no-any-return]
