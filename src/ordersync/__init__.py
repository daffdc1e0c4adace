"""ordersync: keep every tenant's orders complete and correct in the warehouse."""

__version__ = "0.1.0"
