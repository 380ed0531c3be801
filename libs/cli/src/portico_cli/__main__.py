import sys

from portico_cli.main import main

sys.exit(main())
