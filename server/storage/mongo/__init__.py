"""MongoDB adapter: the production store, on PyMongo's asyncio API."""

from server.storage.mongo.store import MongoStore

__all__ = ["MongoStore"]
