"""What every page of the web UI stands on: the process's settings, database connections,
request dependencies, templating, the message catalogue, request limits, security headers
and the server."""
