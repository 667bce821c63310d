"""The pipeline runtime: graph building, edges, run loop, shutdown, metrics."""
