"""Code the functional tests run in separate OS processes: ``python -W error workers.py <command> '<json>'``.

Real processes, not threads, because the invariants under test are about several writers that share nothing
but the database and the chunk directory (DESIGN §4.2), and because a crash test needs a process to kill -9.

Commands (the JSON argument always carries ``target`` and ``storage``, as for ``modelreg.connect``):

    pushes   {name, worker, count, workdir, sync}   push ``count`` distinct small files, one after another
    aliases  {name, worker, moves, versions, sync}   move ``@champion`` ``moves`` times (seeded by worker)
    push     {name, path}                            push one path once (the crash test kills this one)

``sync`` is a barrier directory: a worker connects, creates ``ready-<worker>``, then waits for ``go`` so
that every worker starts its writes at the same moment rather than staggered by interpreter start-up.
Each command prints one JSON document on stdout; any error escapes as a traceback and a non-zero exit.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import modelreg
from modelreg.client.client import Client

ALIAS = "champion"
_BARRIER_TIMEOUT = 120.0


def payload(worker: int, seq: int) -> bytes:
    """The bytes worker ``worker`` pushes on its ``seq``-th push: distinct, self-describing, about 4 KiB."""
    head = f"worker {worker} push {seq}\n".encode()
    body = b"".join(hashlib.sha256(head + bytes([block])).digest() for block in range(128))
    return head + body


def _connect(spec: dict[str, Any], actor: str) -> Client:
    return modelreg.connect(spec["target"], storage=spec["storage"], actor=actor)


def _barrier(spec: dict[str, Any]) -> None:
    sync = Path(spec["sync"])
    (sync / f"ready-{spec['worker']}").touch()
    deadline = time.monotonic() + _BARRIER_TIMEOUT
    while not (sync / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the test never opened the barrier")
        time.sleep(0.002)


def pushes(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Push ``count`` versions of one file; report what each push returned."""
    worker = int(spec["worker"])
    source = Path(spec["workdir"]) / f"worker-{worker}" / "model.bin"
    source.parent.mkdir(parents=True, exist_ok=True)
    done = []
    with _connect(spec, f"worker-{worker}") as reg:
        _barrier(spec)
        for seq in range(int(spec["count"])):
            source.write_bytes(payload(worker, seq))
            version = reg.push(spec["name"], source, tags={"worker": str(worker), "seq": str(seq)})
            done.append({"seq": seq, "version": version.version, "digest": version.digest})
    return done


def aliases(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Point ``@champion`` at random versions ``moves`` times; report each move as the registry saw it."""
    worker = int(spec["worker"])
    pick = random.Random(worker)
    moves = []
    with _connect(spec, f"worker-{worker}") as reg:
        _barrier(spec)
        for _ in range(int(spec["moves"])):
            change = reg.set_alias(spec["name"], ALIAS, pick.randint(1, int(spec["versions"])))
            moves.append({"version": change.version, "set_by": change.set_by})
    return moves


def push(spec: dict[str, Any]) -> dict[str, Any]:
    with _connect(spec, "crasher") as reg:
        version = reg.push(spec["name"], spec["path"])
    return {"version": version.version, "digest": version.digest}


COMMANDS = {"pushes": pushes, "aliases": aliases, "push": push}


def main(argv: list[str]) -> None:
    command, spec = argv[1], json.loads(argv[2])
    json.dump(COMMANDS[command](spec), sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
