-- physioflow:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS appointments_therapist_schedule_idx;
