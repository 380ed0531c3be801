"""`python -m portico_security`: run the security service."""

from portico_security.bootstrap import main

main()
