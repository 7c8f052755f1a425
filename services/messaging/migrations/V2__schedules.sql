-- When a scheduled or recurring campaign next runs.
ALTER TABLE campaigns ADD COLUMN next_run_at timestamptz;
CREATE INDEX campaigns_due ON campaigns (next_run_at) WHERE state = 'scheduled';
