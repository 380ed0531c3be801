"""Pure security logic: integrity, publisher keys and signatures, npm names, verdicts. No I/O."""
