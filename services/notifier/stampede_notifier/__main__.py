"""``python -m stampede_notifier``: the notifier on HTTP_PORT (WebSocket at /ws)."""

from __future__ import annotations

from stampede_runtime.settings import load_settings
from stampede_runtime.web import serve

from .main import create_app, raise_open_files_limit, uvicorn_options
from .settings import NotifierSettings


def main() -> None:
    settings = load_settings(NotifierSettings)
    raise_open_files_limit(settings.max_connections)
    app = create_app(settings)
    serve(app, settings, **uvicorn_options(settings, app.state.hub))


if __name__ == "__main__":
    main()
