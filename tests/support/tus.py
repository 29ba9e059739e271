"""A tus 1.0 client over aiohttp, as a browser's tus-js-client talks to the server."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import aiohttp

from tests.support.accounts import bearer

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


class TusClient:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.http = http
        self.base = base_url.rstrip("/")
        self.headers = {**TUS, **bearer(token)}

    async def create(
        self, length: int, chat_id: str, filename: str, filetype: str
    ) -> tuple[int, str | None, dict[str, str]]:
        async with self.http.post(
            f"{self.base}/api/uploads",
            headers={
                **self.headers,
                "Upload-Length": str(length),
                "Upload-Metadata": metadata(chat_id=chat_id, filename=filename, filetype=filetype),
            },
        ) as response:
            body = await response.json() if response.status >= 400 else {}
            return response.status, response.headers.get("Location"), body

    async def offset(self, location: str) -> int:
        async with self.http.head(self.base + location, headers=self.headers) as response:
            assert response.status == 200, response.status
            return int(response.headers["Upload-Offset"])

    async def patch(
        self, location: str, offset: int, data: bytes | AsyncIterator[bytes]
    ) -> aiohttp.ClientResponse:
        async with self.http.patch(
            self.base + location,
            data=data,
            headers={
                **self.headers,
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        ) as response:
            await response.read()
            return response

    async def upload(self, chat_id: str, content: bytes, filename: str, filetype: str) -> str:
        status, location, body = await self.create(len(content), chat_id, filename, filetype)
        assert status == 201 and location is not None, body
        response = await self.patch(location, 0, content)
        assert response.status == 204, response.status
        assert int(response.headers["Upload-Offset"]) == len(content)
        return location.rsplit("/", 1)[1]
