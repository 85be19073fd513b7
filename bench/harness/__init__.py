"""What tests and benchmarks share: a live server process, FerretDB, stubs, requests."""
