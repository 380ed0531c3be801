"""Authorization: which permission each RPC needs, and which roles grant it."""
