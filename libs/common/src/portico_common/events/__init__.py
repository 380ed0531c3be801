"""Domain events on NATS JetStream as binary-mode CloudEvents."""
