"""`python -m agent_trace.hook` and `python -I -S /path/to/agent_trace/hook/__main__.py`.

Run by path with `-I -S` (as `agent-trace init` installs it), Python skips the site-packages
scan, so `agent_trace` is not importable yet: put the folder that holds the package on sys.path
first. That folder is site-packages for a normal install and `src/` for an editable one.
"""

import os
import sys

if not __package__:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from agent_trace.hook.handler import main

sys.exit(main())
