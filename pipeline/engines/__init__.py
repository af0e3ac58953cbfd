"""Engines other than the in-process pandas one (``Config.engine``); see docs/engines.md.

- ``pipeline.engines.spark``: billing files (usage family) read, validated and summed into usage groups on
  Apache Spark, with the same results as the pandas path of ``pipeline.ingest``.
"""
