"""The service-desk page (`hdrive-migrate serve`): an analyst types a UPN, a display name or an
account name and reads that person's migration status, in counts and reasons, never a file or
folder name. Read-only; every look-up is recorded in the audit log as a consultation."""
