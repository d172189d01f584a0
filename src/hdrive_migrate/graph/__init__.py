"""Everything that talks to Microsoft Graph; nothing else in hdrive-migrate does.

Submodules: `client` (connections and credentials), `errors` (the one classifier and our
exception types), `pacer` (the tenant's request rate), `caller` (the one place requests are
sent and retried), `drive` (OneDrive items, folders and upload sessions for the engine),
`check` (`tenant check`). Importing this package imports no SDK code, so
commands that do not talk to Graph start fast.
"""
