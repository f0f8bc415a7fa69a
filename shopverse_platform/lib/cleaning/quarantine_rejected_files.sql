-- The not-read landing files' records (rejected_files.sql) into the quarantine.
INSERT INTO quarantine BY NAME SELECT * FROM _rejected_files
