"""The operator console (`/console`): screened calls, the caller's history, a verdict in one
click."""
