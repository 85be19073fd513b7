"""SearchMemory: one search engine for every store.

Stores do ordinary indexed reads (``server.domain.ports.store``); everything
that decides a ranking lives here, so the ranking is the same on every store:

- ``analyzer``: text to stemmed terms (query and documents alike)
- ``bm25``: keyword scores, with fixed parameters
- ``vectors``: int8 quantization of embeddings and exact cosine top-k
- ``fusion``: relative score fusion of two rankings (hybrid)
- ``mmr``: maximal marginal relevance re-ranking (diversity)
- ``filters``: the request's filters, checked and evaluated
- ``records``: what crosses the store port for search and indexing
- ``engine``: the SearchMemory use case
- ``indexer``: background indexing (terms, then embeddings) with leases
"""
