"""Corpus readers: each yields typed :class:`~emomon.records.Utterance` records."""

from .ravdess import read_ravdess

__all__ = ["read_ravdess"]
