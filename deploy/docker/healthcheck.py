"""Container healthcheck: GET http://127.0.0.1:$HTTP_PORT<path>, exit 0 on a 2xx, else 1.

The service images have no curl; this uses only the standard library.
Usage: python /app/bin/healthcheck.py [/readyz|/healthz]   (default /readyz)
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def url_for(path: str, port: str | None) -> str:
    if not path.startswith("/"):
        path = "/" + path
    return f"http://127.0.0.1:{port or '8000'}{path}"


def check(url: str, timeout: float = 3.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck {url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/readyz"
    return check(url_for(path, os.environ.get("HTTP_PORT")))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
