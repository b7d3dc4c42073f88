"""`triage serve`: the HTTP service, a thin user of `Triage` (needs the `serve` extra).

The rooms, in the order a request travels: `server` (uvicorn, the worker processes,
signals; `settings` what the command line decided), `protocol` (a bound on request
heads), `asgi` (request, answer, routing by path and method), `app` (the routes,
body limits, auth, each route's answer),
`holder` (the serving version and its atomic swap), `adapter` (the one module that
calls the library), `problems` (error answers), `metrics`, `decisionlog`, `reload`
(SIGHUP and --watch) and `logs` (JSON lines). Nothing here is imported by `triage`
itself, so the library does not need uvicorn or prometheus-client.
"""
