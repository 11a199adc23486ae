import sys

from services.state.loop import main

sys.exit(main())
