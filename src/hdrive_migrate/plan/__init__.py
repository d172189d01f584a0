"""The planner: a decision for every scanned file, with target names OneDrive accepts, and the
records managers' review and disposal workflow."""
