"""A loaded engine + settings -> the service, listening on a socket until it is told to stop.

uvicorn serves the application. On SIGTERM or SIGINT it stops accepting connections, answers
every request it has accepted (up to ``grace`` seconds), and only then closes the sessions, the
session backend and the decision log (the application's lifespan), so that no accepted request
is lost and no log line is cut.
"""

from __future__ import annotations

import socket

import uvicorn

from mentorrules.engine import Engine
from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.serving.app import Settings, create_app


def bind(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A listening socket (port 0: a free port, which ``getsockname()`` tells); MR438 when the
    address cannot be used.

    >>> listening = bind("127.0.0.1", 0)
    >>> listening.getsockname()[1] > 0
    True
    >>> listening.close()
    """
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as error:
        raise MentorRulesError([Problem("MR438", f"cannot listen on {host}:{port}: {error.strerror or error}",
                                        Location(), hint="choose another --port, or stop what uses it")]) from None
    listening.set_inheritable(True)
    return listening


def run(engine: Engine, settings: Settings, listening: socket.socket, *, grace: float = 30.0) -> None:
    """Serve until SIGTERM or SIGINT, then answer what was accepted and stop (see the module)."""
    config = uvicorn.Config(create_app(engine, settings), lifespan="on", log_level="warning", access_log=False,
                            timeout_graceful_shutdown=int(grace), server_header=False, date_header=True)
    uvicorn.Server(config).run(sockets=[listening])
