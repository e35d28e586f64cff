"""`python -m chaos.cli`: the `kube-chaos` console script without an installed entry point."""

import sys

from chaos.cli import main

if __name__ == "__main__":
    sys.exit(main())
