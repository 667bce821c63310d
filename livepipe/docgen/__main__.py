"""``python -m livepipe.docgen``: write the generated docs (``--check``: only say which are stale)."""

import sys

from livepipe.docgen import main

sys.exit(main())
