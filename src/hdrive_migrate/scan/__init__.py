"""The scanner: inventories each user's home folder into the workspace database, with deltas
against the previous scan and pre-flight findings against OneDrive's rules."""
