"""Coordination between processes sharing a warehouse: fenced leases per tenant and stream."""
