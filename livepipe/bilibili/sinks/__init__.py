"""The Bilibili action sinks: ``bilibili.ban``, ``bilibili.send`` and ``bilibili.room``.

They share :mod:`livepipe.bilibili.sinks.common`: validation before any request, per-account rate
limits, retries with backoff, suspension and an alert on a fatal credential error, ``action.result``
events on the ``results`` output, and an optional JSONL audit log. See docs/actions.md.
"""
