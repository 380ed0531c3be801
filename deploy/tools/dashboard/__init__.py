"""The Grafana dashboard model, built by one function per row (see model.ROWS)."""
