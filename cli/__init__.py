"""The `p4p` command line, the local runtime, the demo and the data generator.

The CLI runs the handlers in its own process (the local runtime), and powertools reads the service name
and metrics namespace when `shared.observability` is first imported, which in the CLI happens before a
runtime exports the functions' environment; these defaults match what the stack gives every function.
"""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "p4p")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "P4P")
