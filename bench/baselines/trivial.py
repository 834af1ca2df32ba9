"""A fixed HTTP answer, as cheap as Python can serve one: the load generator's ceiling.

``python -m bench.baselines.trivial --port P``

A bare uvloop protocol: every request head (``\\r\\n\\r\\n``) on a kept-alive connection
gets the same small ``409`` problem document, the shape of the gateway's sold-out answer,
so that wrk's Lua does the same work per answer as against the systems it measures. It
parses nothing else (request bodies here never hold a blank line).
"""

from __future__ import annotations

import argparse
import asyncio

import uvloop

BODY = (b'{"type":"about:blank","title":"Out of stock","status":409,'
        b'"detail":"Nothing left to reserve.","code":"OUT_OF_STOCK"}')
ANSWER = (b"HTTP/1.1 409 Conflict\r\ncontent-type: application/problem+json\r\n"
          b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
HEALTHY = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Answer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        data = self.tail + data
        heads = data.count(b"\r\n\r\n")
        self.tail = data[-3:]
        if heads:
            answer = HEALTHY if b"GET /healthz" in data else ANSWER
            self.transport.write(answer * heads)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
