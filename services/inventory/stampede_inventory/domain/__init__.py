"""The inventory's core: a drop's state and the decisions about it (no I/O, no clock)."""

from .decide import Decision, Numbered, Verdict, decide
from .state import DropState, Hold

__all__ = ["Decision", "DropState", "Hold", "Numbered", "Verdict", "decide"]
