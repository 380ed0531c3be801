"""Suite-wide pytest configuration: the kernel's real-infrastructure fixtures."""

pytest_plugins = ["portico_embedded.testing.fixtures"]
