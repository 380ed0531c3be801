from portico_slo.bootstrap import main

main()
