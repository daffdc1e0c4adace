-- PostgreSQL: the keys change in place (data, compression and other indexes stay as they are).
ALTER TABLE cdp.sync_runs DROP CONSTRAINT sync_runs_pkey, ADD PRIMARY KEY (run_id, tenant_id);
ALTER TABLE cdp.quarantine DROP CONSTRAINT quarantine_pkey, ADD PRIMARY KEY (quarantine_id, tenant_id);
ALTER TABLE cdp.discrepancies DROP CONSTRAINT discrepancies_pkey, ADD PRIMARY KEY (discrepancy_id, tenant_id);
ALTER TABLE cdp.hook_inbox DROP CONSTRAINT hook_inbox_pkey, ADD PRIMARY KEY (notification_id, tenant_id);
-- seq stays unique across tenants by construction (one seal at a time numbers every batch); the
-- key's index still serves max(seq) and the look-ups by seq.
ALTER TABLE cdp.landing_batches
    DROP CONSTRAINT landing_batches_pkey,
    DROP CONSTRAINT landing_batches_seq_key,
    ADD PRIMARY KEY (batch_id, tenant_id),
    ADD CONSTRAINT landing_batches_seq_key UNIQUE (seq, tenant_id);
ALTER TABLE cdp.revision_notices DROP CONSTRAINT revision_notices_pkey, ADD PRIMARY KEY (notice_id, tenant_id);
