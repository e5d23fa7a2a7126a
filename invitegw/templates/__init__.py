"""Jinja2 email bodies (text and HTML) per language. Package data only, no logic."""
