"""The ``modelreg`` command line: a thin shell over the SDK (``modelreg.connect``).

    app.py        wiring: the Typer app, global options, ``main()`` (errors → one line + exit status)
    session.py    per-invocation settings (registry, storage, --json) and the lazy SDK connection
    inputs.py     parsing of user input the SDK does not see as such: KEY=VALUE pairs, JSON files
    output.py     rendering: one JSON document, or Rich tables for people
    progress.py   push/pull progress: byte counters and a Rich bar
    transfer.py   push, pull
    browse.py     models, versions, show, search
    aliases.py    alias set | rm | history
    annotate.py   tag set | rm, describe
    lifecycle.py  stage, delete
    docs.py       docs/cli.md, generated from the app

Nothing here may import the stores or the use cases (import-linter checks); heavy modules (the SDK,
SQLAlchemy, rich.progress) are imported inside the command that needs them so ``--help`` stays fast.
"""
