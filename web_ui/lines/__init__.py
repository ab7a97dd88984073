"""The lines page (`/lines`): technicians add, edit, test and remove lines."""
