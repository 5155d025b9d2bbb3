"""``python -m econdl`` works like the ``econdl`` command (its help and usage lines say ``econdl``)."""

import sys

from econdl.main import main

if __name__ == "__main__":
    sys.argv[0] = "econdl"  # argparse names the program after argv[0], here .../econdl/__main__.py
    main()
