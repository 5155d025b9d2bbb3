"""``python -m econdl`` works like the ``econdl`` command."""

from econdl.main import main

if __name__ == "__main__":
    main()
