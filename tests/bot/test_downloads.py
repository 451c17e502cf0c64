"""The attachment download check: only Discord's own origins (scheme, host and port), and a size cap that counts
decoded bytes as they stream, so a small compressed body cannot expand in memory past the cap."""

from __future__ import annotations

import gzip
import tracemalloc
from types import SimpleNamespace

import discord
import httpx
import pytest
from aiohttp import web

from bot import uploads
from bot.errors import UploadError

BOMB_SIZE = 64 * 1024 * 1024  # what the compressed body expands to
BOMB = gzip.compress(b"\0" * BOMB_SIZE, compresslevel=9)  # about 64 KiB on the wire


def attachment_at(url: str, size: int = 10) -> discord.Attachment:
    payload = {"id": "1", "filename": "f.png", "size": size, "url": url, "proxy_url": url}
    return discord.Attachment(data=payload, state=SimpleNamespace(http=None))  # type: ignore[arg-type]


@pytest.fixture
async def server():
    """A localhost server: /bomb (gzip body that expands to 64 MiB), /small.gz (gzip, small), /plain."""

    async def bomb(request: web.Request) -> web.Response:
        return web.Response(body=BOMB, headers={"Content-Encoding": "gzip", "Content-Type": "image/png"})

    async def small(request: web.Request) -> web.Response:
        body = gzip.compress(b"a small file")
        return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "image/png"})

    async def plain(request: web.Request) -> web.Response:
        return web.Response(body=b"plain bytes", content_type="image/png")

    app = web.Application()
    app.router.add_get("/bomb", bomb)
    app.router.add_get("/small.gz", small)
    app.router.add_get("/plain", plain)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_another_port_or_scheme_on_the_discord_host_is_not_discord(server):
    allowed = uploads.download_origins(f"{server}/api/v10")
    port = int(server.rsplit(":", 1)[1])
    async with httpx.AsyncClient() as http:
        assert await uploads.fetch_attachment(http, attachment_at(f"{server}/plain"), 1024, 5, "file", allowed)
        for url in (f"http://127.0.0.1:{port + 1}/plain", f"https://127.0.0.1:{port}/plain", "http://127.0.0.1/plain"):
            with pytest.raises(UploadError, match="does not come from Discord"):
                await uploads.fetch_attachment(http, attachment_at(url), 1024, 5, "file", allowed)
    assert ("https", "cdn.discordapp.com", 443) in allowed
    assert uploads.origin_of("https://CDN.discordapp.com:443/a") == ("https", "cdn.discordapp.com", 443)


async def test_a_compressed_body_is_capped_on_its_decoded_size_without_expanding_it(server):
    allowed = uploads.download_origins(f"{server}/api/v10")
    async with httpx.AsyncClient() as http:
        assert await uploads.fetch_attachment(http, attachment_at(f"{server}/small.gz"), 1024, 5, "file", allowed) == (
            b"a small file"
        )
        tracemalloc.start()
        try:
            with pytest.raises(UploadError, match="larger than 64 KiB"):
                await uploads.fetch_attachment(http, attachment_at(f"{server}/bomb"), 65536, 5, "file", allowed)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, peak  # never the 64 MiB the body expands to
