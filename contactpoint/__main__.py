"""`python -m contactpoint` runs the command line."""

from contactpoint.cli import app

app(prog_name="contactpoint")
