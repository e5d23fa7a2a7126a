"""Tests of the imperative shell: configuration, storage, CLI."""
