import sys

from services.publisher.loop import main

sys.exit(main())
