"""One router module per resource; each exposes `pages` (HTML) and `api` (JSON under /api)."""
