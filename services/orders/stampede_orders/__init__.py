"""Stampede orders service."""
