-- The registry rows of the files an appending run found (landing.appended_files), added to the day's.
INSERT INTO raw_events BY NAME SELECT * FROM _landed_files
