"""The registry: every business rule (names, versions, manifests, aliases, stages, lineage, search).

It talks to storage only through the seams in ``modelreg.metadata.protocol`` and ``modelreg.blobs.protocol``.
"""
