"""Stampede gateway service."""
