"""Knowledge ingestion and retrieval: a library with a CLI.

It knows nothing of Rasa, FastAPI or tickets. `build_index` writes an artifact directory,
`Retriever.load` reads one.
"""
