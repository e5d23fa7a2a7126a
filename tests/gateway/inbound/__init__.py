"""Tests of the inbound flow: the pipeline, its rules, replies, bounces and the mail services."""
