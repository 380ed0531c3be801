"""Pure rollout logic: the canary state machine, its events and sticky assignment.

No I/O, no asyncio, no protobuf: time arrives as an aware `datetime` argument.
"""
