"""The call-back list: a box's own (its API, shown on the console) and, on the province
hub, every site's (`/callbacks`)."""
