"""Trust's outside world: PostgreSQL, memory, advisory sources, registry signals."""
