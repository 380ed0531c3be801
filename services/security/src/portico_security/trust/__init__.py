"""Trust: OSV advisories, the five-factor trust score, tenants' trust policies, registry signals."""
