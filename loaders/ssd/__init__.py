"""The Standard Safeguarding Dataset (SSD) extract of a council's case system, imported as that council's source."""
