"""The call-back list page (`/callbacks`)."""
