"""The Streamlit dashboard: a pure HTTP client of the API (imports nothing from graph/ or api/)."""
