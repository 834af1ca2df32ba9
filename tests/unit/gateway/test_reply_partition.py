"""A gateway reads the one replies partition the inventory's producer puts its replies in."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from stampede_contracts import INVENTORY_COMMANDS, encode_key
from stampede_gateway.adapters.inventory import InventoryClient


def test_the_partition_read_is_the_one_a_kafka_producer_hashes_the_reply_key_to():
    for instance in ("gateway-0", "gateway-1", "gateway-7", "gw-a1b2c3"):
        client = InventoryClient(producer=None, commands=INVENTORY_COMMANDS,  # type: ignore[arg-type]
                                 instance_id=instance)
        for count in (1, 4, 16):
            partitions = list(range(count))
            key = encode_key(instance)  # the inventory keys a reply by its reply_to
            assert client.my_partitions(partitions) == [
                DefaultPartitioner()(key, partitions, partitions)]
