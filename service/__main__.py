import sys

from service.server import main

sys.exit(main())
