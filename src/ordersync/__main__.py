from ordersync.cli.main import main

main()
