"""A local, Graph-compatible OneDrive for Business service.

It imports nothing from the pipeline: it keeps its own reading of Microsoft's documented rules,
so that the pipeline's reading and this one check each other.
"""
