"""Run the fake alone: ``python -m bot.fake --port 8910``."""

from bot.fake import main

raise SystemExit(main())
