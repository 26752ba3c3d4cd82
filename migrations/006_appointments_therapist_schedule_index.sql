-- physioflow:no-transaction
-- Builds the therapist schedule index without blocking writes to appointments,
-- which CREATE INDEX CONCURRENTLY only does outside a transaction.
-- If this fails it may leave an INVALID index: drop it and re-run.
CREATE INDEX CONCURRENTLY IF NOT EXISTS appointments_therapist_schedule_idx
    ON appointments (therapist_id, starts_at)
    WHERE status IN ('scheduled', 'confirmed', 'checked_in');
