"""gRPC plumbing shared by every service: server bootstrap, interceptor, tokens."""
