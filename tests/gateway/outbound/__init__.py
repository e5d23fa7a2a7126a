"""Tests of the outbound flow: planner, invitations, outbox, dispatcher, scheduler, demo."""
