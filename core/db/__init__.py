"""Engine, URLs, schema and migrations, dialect errors and change feeds."""
