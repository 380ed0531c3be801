"""Test helpers shipped with the service: npm tarballs, signing publishers, stand-ins, wiring."""
