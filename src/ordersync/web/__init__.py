"""The HTTP side of `ordersync serve`: push API, VTEX Hook receiver, health."""
