"""Wave reports: `hdrive-migrate report` writes, from the database alone, a folder a manager,
a migration engineer and a records manager can each read (summary.html, summary.csv,
items.csv, failures.csv, the records registers and per-user manifests), with SHA256SUMS.

Modules: `columns` (every CSV's columns, the contract), `rows` (one user's planned files,
streamed, and the pure mapping of a file to each CSV's row), `tally` (counts and bytes),
`charts` (inline SVG geometry), `folder` (which files a report may write and replace),
`summary` (summary.html), `export` (the whole report), `failures_doc` (docs/failures.md);
the `audit` modules keep the audit log.
"""
