"""Memory logic of Memoria: knows nothing of gRPC or of any database."""
