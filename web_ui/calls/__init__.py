"""The call log page (`/calls`) and its search."""
