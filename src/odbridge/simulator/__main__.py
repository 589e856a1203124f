"""``python -m odbridge.simulator --fd N``: how SimulatorProcess runs a simulator.

Serves the settings read from standard input (JSON) on the bound socket ``N`` inherited
from the parent, until SIGTERM. People run ``odbridge simulate``.
"""

from __future__ import annotations

import argparse
import socket
import sys

from odbridge.simulator.server import serve_forever
from odbridge.simulator.settings import SimulatorSettings


def main(argv: list[str] | None = None) -> None:
    """Read the settings, take the socket, serve."""
    parser = argparse.ArgumentParser(prog="python -m odbridge.simulator")
    parser.add_argument("--fd", type=int, required=True, help="a bound socket to serve on")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    settings = SimulatorSettings.model_validate_json(sys.stdin.read())
    sock = socket.socket(fileno=args.fd)
    serve_forever(settings.model_copy(update={"port": sock.getsockname()[1]}), args.log_level, sock)


if __name__ == "__main__":
    main()
