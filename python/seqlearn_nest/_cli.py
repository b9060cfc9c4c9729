"""The `seqlearn-nest` console script: runs the bundled binary with the
environment that points it at this interpreter's NEST."""

import os
import sys

from ._paths import SeqlearnNestError, binary_path, cli_env


def main():
    try:
        exe = str(binary_path())
        env = cli_env()
    except SeqlearnNestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.execve(exe, [exe, *sys.argv[1:]], env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
