"""What the node's and the hub's web apps share, and nothing else (README, Layout). It imports neither
app and holds no domain and no database code.

- ``errors``: the errors domain code raises (framework-free), ``problems``: their one mapping to
  RFC 9457 problems under /api and Chinese error pages elsewhere;
- ``auth``: who is asking (session middleware: bearer under /api, the cookie on pages), role
  guards, the public-route marker; ``site``: what each app tells this package about itself;
- ``pages``: the login/logout and citizen pages (verify, progress) as controllers;
- ``decoding``: strict, bounded JSON bodies; ``openapi``: problem responses and the bearer scheme;
- ``config``: the Litestar wiring both apps share (the /api and pages routers, dependency
  injection, templates, filters, CSRF, OpenAPI); ``lifespan``: background work started and
  stopped with the app; ``serving``: uvicorn, and which proxy's forwarded headers to believe;
- ``display``: Beijing time, masked resident IDs, QR codes;
- ``passwords``, ``throttle``: staff password hashes, throttled logins and progress lookups;
- ``templates/``: the page layout and its CSS, and the shared templates (login, error, progress, verify).
"""
