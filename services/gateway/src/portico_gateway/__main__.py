from portico_gateway.main import main

main()
