"""The topic registry: every topic's name, partition count and key.

Nothing else in the code base spells a topic name. Partition counts are the
defaults used by the embedded stack and the deploy manifests; a deployment may
override them through ``TopicSpec.partitions`` at creation time, never by
renaming.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name, default partition count and what its key is."""

    name: str
    partitions: int
    key: str
    doc: str

    def in_namespace(self, namespace: str) -> TopicSpec:
        """The same topic under a deployment namespace (``TOPIC_NAMESPACE``), so several
        systems (or test runs) can share one cluster without seeing each other."""
        return replace(self, name=f"{namespace}.{self.name}") if namespace else self


INVENTORY_COMMANDS = TopicSpec(
    name="inventory.commands",
    partitions=8,
    key="drop_id",
    doc="Commands to the inventory; the owner of a partition is the single writer of its drops.",
)
INVENTORY_EVENTS = TopicSpec(
    name="inventory.events",
    partitions=8,
    key="drop_id",
    doc="Every decision of the inventory, in per-drop order (seq rises by one per event).",
)
INVENTORY_REPLIES = TopicSpec(
    name="inventory.replies",
    partitions=4,
    key="reply_to",
    doc="Answers to commands that carried reply_to; each gateway reads the partition its"
    " reply_to hashes to and keeps those addressed to it.",
)
QUEUE_UPDATES = TopicSpec(
    name="waiting-room.updates",
    partitions=4,
    key="drop_id",
    doc="Each drop's waiting-room figures (QueueUpdated), published by the gateway.",
)
DEAD_LETTERS = TopicSpec(
    name="stampede.dead-letters",
    partitions=1,
    key="source topic",
    doc="Messages no consumer could decode or apply, with the reason in the headers.",
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    INVENTORY_COMMANDS,
    INVENTORY_EVENTS,
    INVENTORY_REPLIES,
    QUEUE_UPDATES,
    DEAD_LETTERS,
)


@dataclass(frozen=True, slots=True)
class Topics:
    """The registry resolved for one deployment namespace; services hold one of these."""

    commands: TopicSpec
    events: TopicSpec
    replies: TopicSpec
    queue: TopicSpec
    dead_letters: TopicSpec

    @classmethod
    def for_namespace(
        cls, namespace: str = "", *, partitions: Mapping[str, int] | None = None
    ) -> Topics:
        """The registry under ``namespace``; ``partitions`` overrides partition counts by
        the registry's name (``KAFKA_TOPIC_PARTITIONS``)."""
        counts = partitions or {}

        def resolve(spec: TopicSpec) -> TopicSpec:
            if spec.name in counts:
                spec = replace(spec, partitions=counts[spec.name])
            return spec.in_namespace(namespace)

        return cls(
            commands=resolve(INVENTORY_COMMANDS),
            events=resolve(INVENTORY_EVENTS),
            replies=resolve(INVENTORY_REPLIES),
            queue=resolve(QUEUE_UPDATES),
            dead_letters=resolve(DEAD_LETTERS),
        )

    def all(self) -> tuple[TopicSpec, ...]:
        return (self.commands, self.events, self.replies, self.queue, self.dead_letters)
