"""Stampede inventory service."""
