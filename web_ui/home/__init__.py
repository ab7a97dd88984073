"""The dashboard (`/`)."""
