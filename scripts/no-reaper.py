"""Runs a command as the child of a PID 1 that never reaps orphans, as a plain container
entrypoint does: `unshare -fp --mount-proc python3 scripts/no-reaper.py CMD [ARGS]`."""
import os
import subprocess
import sys

child = subprocess.Popen(sys.argv[1:])
_, status = os.waitpid(child.pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
