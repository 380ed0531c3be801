"""Pure compat logic: npm range semantics and host compatibility. No I/O."""
