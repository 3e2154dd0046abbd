"""Runs a command on a pseudo-terminal and answers its prompts, as a person would.

    python3 pty_drive.py STEPS_JSON CMD [ARGS...]

STEPS_JSON is a list of {"expect": REGEX, "send": TEXT}: wait until the
output (after the previous match) matches REGEX, then type TEXT. Then read
until the command exits and print {"output": ..., "status": N} as JSON on
stdout. Every wait is bounded (20 s); a timeout reports status -1 and the
output so far.
"""
import json
import os
import pty
import re
import select
import sys
import time

TIMEOUT = 20.0


def main() -> None:
    steps = json.loads(sys.argv[1])
    command = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    output = b""
    position = 0
    deadline = time.monotonic() + TIMEOUT

    def read_some(wait: float) -> bool:
        nonlocal output
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the command exited and closed the terminal
            return False
        if not chunk:
            return False
        output += chunk
        return True

    status = None
    for step in steps:
        pattern = re.compile(step["expect"].encode())
        while True:
            match = pattern.search(output, position)
            if match:
                position = match.end()
                break
            if time.monotonic() > deadline or not read_some(0.1):
                status = -1
                break
        if status is not None:
            break
        os.write(fd, step["send"].encode())
    while status is None and read_some(0.1):
        if time.monotonic() > deadline:
            status = -1
    if status is None:
        _, code = os.waitpid(pid, 0)
        status = os.waitstatus_to_exitcode(code)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    print(json.dumps({"output": output.decode("utf-8", "replace"), "status": status}))


main()
