"""Delighted-compatible v1 API (/v1/): Delighted's clients work by changing the base URL."""
