"""The ports the domain owns: what it needs from a store, a summarizer, a token counter."""
