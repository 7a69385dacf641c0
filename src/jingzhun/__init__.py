"""jingzhun (精准): precision marketing for online retailers.

Data flows raw files -> ingest -> warehouse (canonical tables) -> profile -> segment -> predict
-> plan -> evaluate -> report; see DESIGN.md in the shared folder for the architecture.
"""

__version__ = "0.1.0"
