package evidencelog

// DatabaseFile is the name of the SQLite database in a log's directory.
const DatabaseFile = dbFile
