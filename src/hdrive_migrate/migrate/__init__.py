"""The migration engine: each planned file read from the source, sent into its user's OneDrive,
verified and recorded with one outcome; resumable at any moment.

Modules: `work` (what to do, streamed from state.db), `transfer` (one file's life),
`checkpoint` (every step written to state.db), `run` (the run: workers, limits, stopping),
`limits` (window, read rate, memory), `sealing` (upload URLs encrypted at rest), `forecast`
(--dry-run), `progress` (what people see), `reasons` (why a file failed, and the fix).
"""
