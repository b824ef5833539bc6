"""`python -m hiergenre ...`: the same as the `hiergenre` command."""

import sys

from hiergenre.cli.main import main

sys.exit(main())
