-- Demo only (npm run demo); not a product migration. Additive, so the live color keeps working.
ALTER TABLE patients ADD COLUMN demo_release_note text;
