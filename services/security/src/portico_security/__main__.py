from portico_security.bootstrap import main

main()
