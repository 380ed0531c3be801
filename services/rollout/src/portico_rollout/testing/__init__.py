"""Test helpers shipped with the service.

`world` runs the app layer over in-memory adapters (no I/O at all);
`driver` talks to a running service over gRPC and JetStream.
"""
