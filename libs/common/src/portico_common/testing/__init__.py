"""Test helpers shipped with the kernel: real NATS and PostgreSQL for tests."""
