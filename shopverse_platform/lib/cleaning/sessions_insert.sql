INSERT INTO sessions BY NAME SELECT * FROM _sessions_recomputed
