"""``python -m storage upgrade|revision|current|history [URL]`` (see ``storage.migrate``)."""

from storage.migrate import main

main()
