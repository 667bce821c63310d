"""A faithful local simulator of the Bilibili live service (HTTP API subset + WebSocket ``/sub``).

Start it in-process with :func:`livepipe.sim.app.run_simulator`, or from the shell with
``livepipe sim``. See docs/simulator.md.
"""
