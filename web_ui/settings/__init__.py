"""The screening settings page (`/settings`)."""
