"""The way in: passwords, sessions, the login gate, the login and profile pages."""
