"""Pure verification logic: integrity, keys, signatures, provenance, verdicts. No I/O."""
