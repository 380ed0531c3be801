"""Dev-only infrastructure: embedded NATS JetStream and PostgreSQL, and the test harness.

`portico up` and the tests depend on this package; services never do, so a
production image carries neither server.
"""
