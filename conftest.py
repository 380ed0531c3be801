"""Suite-wide pytest configuration: the kernel's real-infrastructure fixtures."""

pytest_plugins = ["portico_common.testing.fixtures"]
