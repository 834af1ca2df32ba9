"""Stampede notifier service."""
