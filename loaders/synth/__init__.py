"""Building blocks of the synthetic England generator (see loaders/generate.py)."""
