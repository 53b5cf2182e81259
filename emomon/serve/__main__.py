"""``python -m emomon.serve [--host ...] [--port ...]``: the server without the rest of the CLI."""

import sys

from .command import main

sys.exit(main(sys.argv[1:]))
