"""What the node's and the hub's web apps share, and nothing else (DESIGN.md): staff passwords
and the throttling of logins and progress lookups so far; the error mapping, layout and shared pages are to move here too
(issue 18). It imports neither app and holds no domain and no database code."""
