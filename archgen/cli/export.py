"""The `export` command: write Kubernetes manifests (+ kustomize), a Helm chart or a Swarm stack."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import app, terminal


@app.command()
def export(
    target: str = typer.Argument(..., metavar="TARGET", help="kubernetes, helm or swarm."),
    source: Path | None = typer.Argument(
        None, metavar="PROJECT_DIR|SPEC", show_default=False,
        help="A rendered project or a spec file (default: the current directory).",
    ),
    output: Path | None = typer.Option(None, "--output", "-o", show_default=False,
                                       help="The folder to write."),
    check: Path | None = typer.Option(
        None, "--check", show_default=False,
        help="Exit 1 listing files in DIR that differ from a fresh export; writes nothing.",
    ),
    istio: bool = typer.Option(False, "--istio",
                               help="Add Istio resources: Gateway, VirtualServices, "
                               "DestinationRules, PeerAuthentication STRICT."),
    force: bool = typer.Option(False, "--force",
                               help="Write into a non-empty folder archgen export did not write."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Print the files and the report as JSON on stdout."),
) -> int:
    """Export a project to Kubernetes, Helm or Swarm, reporting every setting that does not map.

    Example: archgen export kubernetes shop -o shop-k8s --istio
    """
    from archgen.errors import ArgumentError, DriftError
    from archgen.export import build_export, check_export, write_export

    if (output is None) == (check is None):
        raise ArgumentError("pass exactly one of --output DIR and --check DIR",
                            hint="e.g. archgen export helm shop -o shop-chart")
    result = build_export(target, source if source is not None else Path.cwd(), istio=istio)
    payload = result.as_dict()
    if check is not None:
        try:
            check_export(result, check)
        except DriftError as error:
            if as_json:
                terminal.json({"drift": True, **payload, **error.details})
            raise
        if as_json:
            terminal.json({"drift": False, **payload})
        else:
            terminal.success(f"{check}: up to date")
        return 0
    assert output is not None
    write_export(result, output, force=force)
    if as_json:
        terminal.json({"output": str(output), **payload})
    if not terminal.quiet:
        terminal.info(result.report.text())
    counts = payload["report"]["counts"]
    terminal.success(f"wrote the {result.target} export of {result.project!r} into {output} "
                     f"({len(result.files)} files): {counts['mapped']} settings mapped, "
                     f"{counts['changed']} changed, {counts['unmapped']} not mapped, "
                     f"{counts['skipped']} workloads skipped (see above)")
    if target == "swarm":
        terminal.info(f"next: build or load the images of {output}/images.txt on every node "
                      f"(swarm does not build), then {output}/deploy.sh PROJECT_DIR")
        return 0
    terminal.info(f"next: {output}/create-secrets.sh PROJECT_DIR, then "
                  + ("kubectl apply -k " + f"{output}/overlays/dev" if target == "kubernetes"
                     else f"helm install {result.project} {output} -n {result.project} "
                     "--create-namespace"))
    return 0

