"""``python -m stampede_inventory``: the inventory on ``HTTP_PORT``."""

from stampede_runtime.settings import load_settings
from stampede_runtime.web import serve

from .main import create_app
from .settings import InventorySettings


def main() -> None:
    settings = load_settings(InventorySettings)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
