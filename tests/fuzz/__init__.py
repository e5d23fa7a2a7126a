"""Fuzz targets (Hypothesis) for the inbound contract."""
