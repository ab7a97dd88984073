"""The reports page (`/reports`): the centre's figures, the print view and the CSV exports."""
