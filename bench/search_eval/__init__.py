"""The labelled evaluation set of SearchMemory: ``corpus.json`` and its loader."""
