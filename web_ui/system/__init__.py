"""The system page (`/system`): versions, the database, backup and restore, logs."""
