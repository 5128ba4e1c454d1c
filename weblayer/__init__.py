"""What the node's and the hub's web apps share, and nothing else (DESIGN.md). It imports neither
app and holds no domain and no database code.

- ``errors``: the errors domain code raises (framework-free), ``problems``: their one mapping to
  RFC 9457 problems under /api and Chinese error pages elsewhere;
- ``config``: the Litestar settings both apps wire alike (templates, filters, CSRF, OpenAPI);
- ``display``: Beijing time, masked resident IDs, QR codes;
- ``passwords``, ``throttle``: staff password hashes, throttled logins and progress lookups;
- ``templates/``: the page layout and its CSS, and the shared pages (login, error, progress, verify).
"""
