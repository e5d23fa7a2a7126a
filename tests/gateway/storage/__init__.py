"""Tests of the gateway's storage on SQLite and PostgreSQL."""
