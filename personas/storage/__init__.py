"""SQLite storage: the shared plumbing (`database`, `migrations`, `rows`) and the personas package's tables.

One file holds every package's tables; each package owns its tables and migrations (`personas/migrations/`,
`bot/migrations/`). `personas.store.PersonaStore` puts the parts below together:

| module | tables |
| --- | --- |
| `personas.py` | `personas` (create, read, edit, delete) |
| `activations.py` | `activations` (which personas listen in a channel) |
| `memory.py` | `turns` (conversation memory) |
| `scenes.py` | `scenes` (where each persona is, per channel) |
| `selfies.py` | `selfies` (what was sent, with every regeneration parameter) |
| `looks.py` | `persona_looks` (every look version, written with each look change; rollback) |
| `references.py` | `persona_references` (reference pictures after the first) |
| `look_scores.py` | (reads `selfies`) identity scores per look version |
"""
