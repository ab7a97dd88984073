"""Accounts and the audit log (`/users`, `/audit`)."""
