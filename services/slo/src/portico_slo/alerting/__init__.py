"""Alerts that reach people: slo's own events become alerts, routed, grouped and delivered.

A bounded context of the slo service with its own rooms (domain, app,
adapters, entrypoints). Its semantics follow Prometheus Alertmanager: a
routing tree per tenant, aggregation groups with group_wait, group_interval
and repeat_interval, a notification log for deduplication, silences and
inhibition, resolved notifications.
"""
