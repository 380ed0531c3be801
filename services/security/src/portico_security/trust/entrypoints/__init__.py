"""gRPC entrypoints of trust: AdvisoryService and TrustService."""
