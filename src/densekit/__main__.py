import sys

from densekit._cli import main

sys.exit(main())
