"""Tests of the inbound side (received invitations become CRM tasks)."""
