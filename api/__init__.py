"""The HTTP API: authentication, the viewer context, routes and error mapping."""
