"""Command line: thin callers of the Ordersync facade."""
