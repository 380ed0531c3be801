"""Alerting's entrypoints: the gRPC servicer, event handlers and background jobs (thin)."""
