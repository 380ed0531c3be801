"""Install's outside world: PostgreSQL, memory, event messages, verification and trust."""
