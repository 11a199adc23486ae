import sys

from services.collector.loop import main

sys.exit(main())
