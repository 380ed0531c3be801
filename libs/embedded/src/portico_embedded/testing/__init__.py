"""Test harness on real infrastructure: pytest fixtures and service launchers."""
