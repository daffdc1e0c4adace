"""VTEX: the Orders API pull (ordersync.extract), Feed v3 (feed) and Hook (hook)."""
