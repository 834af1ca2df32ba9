"""The notifier's I/O: WebSocket connections."""
