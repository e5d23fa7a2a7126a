"""Tests of the CRM adapters: the port contract and adapter specifics."""
