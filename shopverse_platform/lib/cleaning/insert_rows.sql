INSERT INTO {{target}} BY NAME {{rows}}
