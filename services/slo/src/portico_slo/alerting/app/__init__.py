"""Alerting use cases: channels, routing, silences, ingest of signals, flushes, delivery."""
