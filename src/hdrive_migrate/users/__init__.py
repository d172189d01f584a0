"""The people to migrate: user lists in, the roster in state.db, waves and preflight out.

Submodules: `upns` (UPNs and OneDrive URLs, pure), `csvfiles` (parsing user lists, pure),
`roster` (the users table), `importing` (`users import`), `resolve` (asking the tenant),
`preflight`, `waves` (queries for `wave list/show`).
"""
