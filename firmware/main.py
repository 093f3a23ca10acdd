# nbkit firmware entry point: the board runs this after boot.
import os

# Finish a deploy that was committed but cut before it completed (see host_tools/deploy.py):
# while .deploy/journal.json exists, the applier renames the staged files into place.
try:
    os.stat(".deploy/journal.json")
except OSError:
    pass
else:
    exec(open(".deploy/apply.py").read())

import nbkit  # noqa: E402 - after the deploy journal, on purpose

print("nbkit firmware", nbkit.VERSION)
