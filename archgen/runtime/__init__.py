"""Run a rendered project's `compose.yaml` on the local Docker engine.

The pieces, each small and importable on its own:

- `interpolate` reads `.env` files and expands `${VAR}` forms;
- `compose` loads, validates and normalises `compose.yaml` into the dataclasses of `model`;
- `plan` is pure: compose model + observed engine state -> what to build, pull, create...;
- `engine` is the only module that talks to Docker (through the Docker SDK);
- `health` waits for `depends_on` conditions, probing healthchecks itself;
- `converge` executes a plan in parallel (`archgen up`); `teardown` is `archgen down`;
- `status`, `logs` and `progress` back the commands of the same names;
- the compose verbs: `restart`, `exec`, `oneoff` (`run`), `images` (`build`, `pull`),
  `config_view` (`config`: the model written back as a compose file).

Nothing here imports Typer; the commands in `archgen.cli` are thin wrappers.
"""
