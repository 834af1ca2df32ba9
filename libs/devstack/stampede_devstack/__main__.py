"""``python -m stampede_devstack up``: run the whole system until Ctrl-C / SIGTERM;
``python -m stampede_devstack demo``: drops and a short stampede in a running one."""

from __future__ import annotations

import signal
import sys
import threading

from .stack import SUPERVISE_EVERY_S, Stack, StackSettings


def up() -> int:
    settings = StackSettings()
    stack = Stack.from_settings(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("starting Stampede (embedded broker and database unless given)...", flush=True)
    try:
        stack.start()
    except Exception as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        return 1
    print(f"""
Stampede is up.
  storefront     {stack.gateway_url}/            (admin page: {stack.gateway_url}/admin)
  API            {stack.gateway_url}            (docs: {stack.gateway_url}/docs)
                 {stack.gateway_workers} gateway process(es) on the port (GATEWAY_WORKERS)
  WebSocket      {stack.notifier_ws_url}
                 {stack.notifier_workers} notifier process(es) on the port (NOTIFIER_WORKERS)
  orders (int.)  http://127.0.0.1:{stack.orders_port}
  broker         {stack.kafka_bootstrap_servers}
  database       {stack.database_url}
  admin          username {stack.admin_username!r}  password {stack.admin_password!r}
  logs           {stack.state_dir / 'logs'}
Press Ctrl-C to stop.""", flush=True)
    try:
        while not stop.wait(SUPERVISE_EVERY_S):
            for line in stack.supervise():
                print(line, file=sys.stderr, flush=True)
    finally:
        print("stopping...", flush=True)
        stack.stop()
        print("stopped.", flush=True)
    return 0


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    if command == "up":
        return up()
    if command == "demo":
        from .demo import main as demo

        return demo()
    print("usage: python -m stampede_devstack up|demo", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
