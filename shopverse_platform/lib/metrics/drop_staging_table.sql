DROP TABLE {{staging}}
