#!/usr/bin/env python3
"""Run archgen's compose loader and planner on every compose file under a corpus directory.

What `archgen up --dry-run` does before it touches the engine, in-process and
against an empty engine state (nothing is created): load, validate, normalise,
plan. Prints one line per project (planned, or refused with the reason) and a
count of refusals per compose key.

Usage:
    python benchmarks/compose_corpus.py CORPUS_DIR [--verbose]

Get a corpus, e.g. docker/awesome-compose, extracted to /tmp/awesome-compose.
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archgen.errors import ArchgenError  # noqa: E402
from archgen.runtime.compose import COMPOSE_FILES, load_project  # noqa: E402
from archgen.runtime.plan import EngineState, compute_plan  # noqa: E402

_KEY = re.compile(r"unsupported key '([^']+)'")


def projects(corpus: Path) -> list[Path]:
    found = {p.parent for name in COMPOSE_FILES for p in corpus.rglob(name)}
    return sorted(found)


def project_name(root: Path) -> str:
    # Compose derives the name from the directory; archgen wants it explicit.
    text = re.sub(r"[^a-z0-9_-]", "", root.name.lower()) or "corpus"
    return text if text[0].isalnum() else f"p{text}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", type=Path, help="a directory holding compose projects")
    parser.add_argument("--verbose", "-v", action="store_true", help="print each refusal in full")
    args = parser.parse_args()
    roots = projects(args.corpus)
    planned = 0
    refused_keys: Counter[str] = Counter()
    crashed = 0
    for root in roots:
        rel = root.relative_to(args.corpus)
        try:
            project = load_project(root, name=project_name(root), environ={})
            plan = compute_plan(project, EngineState())
        except ArchgenError as error:
            keys = sorted(set(_KEY.findall(error.message))) or ["(other)"]
            refused_keys.update(keys)
            first = error.message.splitlines()
            detail = "; ".join(line.strip() for line in first[1:] or first)
            print(f"refused  {rel}: {', '.join(keys)}")
            if args.verbose:
                print(f"         {detail}")
            continue
        except Exception:
            crashed += 1
            print(f"CRASHED  {rel}")
            traceback.print_exc()
            continue
        planned += 1
        steps = sum(len(s) for s in plan.containers.values())
        print(f"planned  {rel}: {len(project.active)} services, {steps} containers")
    print()
    refused = len(roots) - planned - crashed
    print(f"{planned} of {len(roots)} projects plan; {refused} refused; {crashed} crashed")
    for key, count in refused_keys.most_common():
        print(f"  refused on {key}: {count} project(s)")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
