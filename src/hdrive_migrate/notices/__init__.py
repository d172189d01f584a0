"""Notices: one plain message per user before and after their wave, written and sent by mail."""
