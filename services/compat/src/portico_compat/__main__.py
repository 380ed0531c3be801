from portico_compat.bootstrap import main

main()
