"""The rules page (`/rules`): allow and block rules, their CSV import and export."""
