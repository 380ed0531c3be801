from portico_tenancy.bootstrap import main

main()
