from portico_rollout.bootstrap import main

main()
