SELECT * FROM {{staging}}
