"""Client-side transfer: scanning what to push, chunking and hashing it, and assembling pulls atomically.

Shared by both SDK implementations: the embedded one hands chunks straight to the registry in-process, the
HTTP one sends them over the wire; the steps, checks and cache are the same.
"""
