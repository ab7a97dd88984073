"""Siaga's local web application (FastAPI); it reads and writes through `appliance` only."""
