from portico_auth.bootstrap import main

main()
