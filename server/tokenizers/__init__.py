"""Token counting adapters (tiktoken, offline)."""
