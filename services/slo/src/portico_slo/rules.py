"""Entry point of `python -m portico_slo.rules` (see portico_slo.entrypoints.rules_cli)."""

from __future__ import annotations

from portico_slo.entrypoints.rules_cli import main

if __name__ == "__main__":
    raise SystemExit(main())
