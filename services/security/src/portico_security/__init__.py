"""Portico security: verification, trust and secure install of npm plugins."""
