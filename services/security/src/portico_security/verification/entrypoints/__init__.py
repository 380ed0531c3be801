"""gRPC entrypoints of verification: SecurityService, PublisherKeyService, ProvenanceService."""
