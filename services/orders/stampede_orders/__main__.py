"""``python -m stampede_orders``: the orders service on ``HTTP_PORT``."""

from __future__ import annotations

from stampede_runtime.observability import configure_observability
from stampede_runtime.settings import load_settings
from stampede_runtime.web import serve

from .main import create_app
from .settings import OrdersSettings


def main() -> None:
    settings = load_settings(OrdersSettings)
    configure_observability("orders", settings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
