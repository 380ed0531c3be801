"""Alerting's outside world: stores, sealed secrets, and the channels' protocols."""
