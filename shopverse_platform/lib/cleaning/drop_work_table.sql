DROP TABLE {{work}}
