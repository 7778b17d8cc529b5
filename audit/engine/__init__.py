"""Predictions -> the audit result: in memory (build), streamed over chunks and shards, on Dask (distributed)."""
