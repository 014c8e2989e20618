"""The dashboard's pages, one module per area; each page function checks the role first."""
