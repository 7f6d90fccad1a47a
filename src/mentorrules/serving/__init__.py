"""The HTTP service (``mentorrules serve``): the engine for systems that are not Python.

``app.py`` holds the endpoints, ``context.py`` the reference data records are checked against,
``openapi.py`` the OpenAPI document, ``log.py`` the decision log, ``server.py`` uvicorn.
"""
