"""Pure SLO logic: definitions, burn rates, the violation state machine, buckets.

No I/O, no asyncio, no protobuf: time arrives as an aware `datetime` argument.
"""
