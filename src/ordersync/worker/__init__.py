"""The worker: scheduled incremental, historical and full syncs across tenants."""
