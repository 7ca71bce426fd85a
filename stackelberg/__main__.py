import sys

from stackelberg.run import main

sys.exit(main())
