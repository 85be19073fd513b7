"""Summarizer adapters: the offline extractive default and an OpenAI-compatible LLM client."""
