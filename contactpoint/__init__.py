"""The `contactpoint` command: the composition root."""
