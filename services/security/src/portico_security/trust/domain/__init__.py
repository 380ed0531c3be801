"""Pure trust logic: OSV parsing and matching, the trust score, trust policies. No I/O."""
