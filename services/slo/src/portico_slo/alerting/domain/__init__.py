"""Pure alerting logic: labels and matchers, alerts, the routing tree, aggregation groups,
silences, inhibition, the notification log, channels.

No I/O, no asyncio, no protobuf: time arrives as an aware `datetime` argument.
"""
