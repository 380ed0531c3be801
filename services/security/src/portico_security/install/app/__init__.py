"""Install use cases and the ports they need."""
