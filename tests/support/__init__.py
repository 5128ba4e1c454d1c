"""What the tests and benchmarks share, imported from here and never from a test module or a
conftest (conftest files hold fixtures only):

- ``polling``: ``eventually`` (poll a condition) and ``run_async`` (a coroutine off the main thread);
- ``api``: ``Api``, a logged-in JSON client of a running hub or node; ``login`` through a test client;
- ``federation``: NATS and the hub on free ports (``running_federation``), village points (``village``, ``running_village``);
- ``builders``: valid resident IDs, the materials an item needs, keys, records and chains, ``submit``;
- ``nodes``: a node's side played by a test (its link, identity, status, NATS injections, a store with a case);
- ``browser``: logging in in real Chromium; ``logs``: what no log may hold; ``shaping``: a slow, lossy link;
- ``faketime``: a child process's clock fast, slow or standing still (libfaketime).
"""
