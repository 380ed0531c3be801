"""Entrypoints of secure install: InstallService and the approval deadline job."""
