"""``python -m stampede_notifier``: the notifier on HTTP_PORT (WebSocket at /ws)."""

from __future__ import annotations

import warnings

from stampede_runtime.settings import load_settings
from stampede_runtime.web import serve

from .main import create_app, uvicorn_options
from .settings import NotifierSettings


def main() -> None:
    # uvicorn's legacy "websockets" protocol warns that it is deprecated; it is the one
    # chosen (WS_IMPLEMENTATION), so the warning is noise in the log.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*websockets.*deprecated.*")
    settings = load_settings(NotifierSettings)
    serve(create_app(settings), settings, **uvicorn_options(settings))


if __name__ == "__main__":
    main()
