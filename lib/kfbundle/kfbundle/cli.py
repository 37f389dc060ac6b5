"""The `kfbundle` command line: render, check, graph, deploy and status."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .output import Output
from .sources import ARCHES, OUR_CHARMS, SourceError, Sources, find_repo_root, load_sources

__all__ = ["OUR_CHARMS", "build_parser", "find_repo_root", "main"]

LAST_SIM = ".kfbundle-last-deploy.json"


class CliError(Exception):
    """An error to show in plain words (exit code 2)."""


def _sources(args: argparse.Namespace) -> Sources:
    try:
        return load_sources(Path(args.root) if getattr(args, "root", None) else None)
    except SourceError as err:
        raise CliError(str(err)) from None


def _overlays(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _render(args: argparse.Namespace, sources: Sources, out: Output) -> Any:
    from .render import RenderError, render

    local = Path(args.local_charms) if getattr(args, "local_charms", None) else None
    if local is not None and not local.is_dir():
        raise CliError(f"--local-charms {local}: no such directory")
    try:
        rendered = render(
            sources,
            args.release,
            arch=args.arch,
            overlays=_overlays(args.overlay),
            local_charms=local,
            allow_partial=args.allow_partial,
        )
    except RenderError as err:
        raise CliError(str(err)) from None
    for warning in rendered.warnings:
        out.warn(warning)
    return rendered


def _cmd_render(args: argparse.Namespace, out: Output) -> int:
    sources = _sources(args)
    rendered = _render(args, sources, out)
    text = rendered.to_yaml()
    if args.output:
        Path(args.output).write_text(text)
        out.progress(
            f"wrote {args.output}: {len(rendered.bundle['applications'])} applications,"
            f" {len(rendered.bundle['relations'])} relations"
        )
    else:
        out.out.write(text)
    return 0


def _load_bundle_file(path: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except yaml.YAMLError as err:
        raise CliError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(doc, dict) or "applications" not in doc:
        raise CliError(f"{path} is not a Juju bundle (no `applications`)")
    return doc


def _cmd_check(args: argparse.Namespace, out: Output) -> int:
    from .check import bundle_arch, check

    sources = _sources(args)
    if args.file:
        bundle = _load_bundle_file(args.file)
        what = args.file
    else:
        bundle = _render(args, sources, out).bundle
        what = f"release {sources.resolve_release(args.release)} ({args.arch})"
    arch = args.check_arch or bundle_arch(bundle)
    problems = check(bundle, sources, arch=arch)
    if not problems:
        out.line(
            f"{what}: OK ({len(bundle['applications'])} applications,"
            f" {len(bundle.get('relations') or [])} relations, {arch})"
        )
        return 0
    out.line(f"{what}: {len(problems)} problem(s) for {arch}:")
    for problem in problems:
        out.line(f"  {problem}")
    return 1


def _cmd_graph(args: argparse.Namespace, out: Output) -> int:
    from .graph import to_svg, write_graph

    sources = _sources(args)
    if args.file:
        bundle = _load_bundle_file(args.file)
        title = args.file
    else:
        rendered = _render(args, sources, out)
        bundle = rendered.bundle
        title = f"Kubeflow {rendered.release}" + (
            f" + {', '.join(rendered.overlays)}" if rendered.overlays else ""
        )
    svg = to_svg(bundle, sources, title)
    if not args.output:
        out.out.write(svg)
        return 0
    problem = write_graph(svg, Path(args.output))
    if problem:
        raise CliError(problem)
    out.progress(f"wrote {args.output}")
    return 0


def _cmd_deploy(args: argparse.Namespace, out: Output) -> int:
    sources = _sources(args)
    rendered = _render(args, sources, out)
    if args.model:
        return _deploy_real(args, rendered.bundle, out)
    return _deploy_simulated(args, sources, rendered, out)


def _deploy_real(args: argparse.Namespace, bundle: dict[str, Any], out: Output) -> int:
    from .realdeploy import JujuUnavailableError, deploy_real

    try:
        settled, rows = deploy_real(
            bundle, args.model, timeout=args.timeout, on_progress=out.progress
        )
    except JujuUnavailableError as err:
        raise CliError(str(err)) from None
    out.table(["App", "Charm", "Status", "Message"], rows)
    if not settled:
        out.error(f"not active/idle after {args.timeout:.0f}s")
    return 0 if settled else 1


def _deploy_simulated(
    args: argparse.Namespace, sources: Sources, rendered: Any, out: Output
) -> int:
    try:
        from .simulate import SimulatedModel
    except ImportError as err:
        raise CliError(
            f"the simulated model needs kfcharm[testing] ({err}): run ./kfbundle, which"
            " installs it"
        ) from None
    missing = [
        f"{app} ({info.name}: "
        + (f"charms/{info.name} missing" if info.path is None else "no src/charm.py")
        + ")"
        for app, spec in rendered.bundle["applications"].items()
        if (info := sources.charm(str(spec.get("charm")))) is not None
        and info.ours
        and not info.runnable
    ]
    for note in missing:
        out.warn(f"not in this checkout, shown as missing: {note}")
    out.progress(
        f"deploying Kubeflow {rendered.release} ({rendered.arch})"
        + (f" with {', '.join(rendered.overlays)}" if rendered.overlays else "")
        + " into the embedded simulated model"
    )
    model = SimulatedModel(
        sources, rendered.bundle, max_hooks=args.max_hooks, progress=out.progress
    )
    result = model.deploy()
    rows = [list(r) for r in result.statuses]
    if not args.all:
        rows = [r for r in rows if sources.is_ours(r[1]) or r[2] != "active"]
    out.line()
    out.table(["App", "Charm", "Status", "Message"], rows)
    if not args.all:
        standins = len(result.statuses) - len(result.ours)
        out.line(f"(+ {standins} Charmhub applications as stand-ins; --all lists them)")
    out.line()
    objects = ", ".join(f"{n} {k}" for k, n in result.k8s_objects.items())
    out.line(f"Kubernetes objects created: {sum(result.k8s_objects.values())} ({objects})")
    out.line(
        f"Kubernetes requests: {result.k8s_requests} ({result.k8s_writes} writes);"
        f" steady-state update-status writes: {result.steady_state_writes}"
    )
    out.line(
        f"Hook runs: {result.hook_runs}; relation data validated against shared schemas on"
        f" {result.validated_relations} relations; wall time {result.wall_time:.1f}s"
    )
    if result.cap_hit:
        out.error(f"events still pending after the cap of {args.max_hooks} hook runs")
    for problem in result.standin_problems:
        out.error(f"relation data: {problem}")
    for hook_error in result.errors:
        out.error(f"{hook_error.unit} {hook_error.event}: {hook_error.summary}")
        if args.verbose:
            out.err.write(hook_error.traceback)
    _save_last(sources, result, rendered)
    not_active = {app: s for app, s in result.ours.items() if s != "active"}
    if not_active or result.cap_hit:
        out.error(
            "not every one of our charms is active: "
            + ", ".join(f"{a} ({s})" for a, s in not_active.items())
        )
        return 1
    out.line(f"All {len(result.ours)} of our applications are active.")
    return 0


def _save_last(sources: Sources, result: Any, rendered: Any) -> None:
    record = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "release": rendered.release,
        "arch": rendered.arch,
        "overlays": rendered.overlays,
        "statuses": result.statuses,
        "hook_runs": result.hook_runs,
        "k8s_requests": result.k8s_requests,
    }
    try:
        (sources.root / "build").mkdir(exist_ok=True)
        (sources.root / "build" / LAST_SIM).write_text(json.dumps(record, indent=1))
    except OSError:  # a read-only checkout: status just has nothing to show
        pass


def _cmd_status(args: argparse.Namespace, out: Output) -> int:
    if args.model:
        from .realdeploy import JujuUnavailableError, model_status

        try:
            rows = model_status(args.model)
        except JujuUnavailableError as err:
            raise CliError(str(err)) from None
        out.table(["App", "Charm", "Status", "Message"], rows)
        return 0 if all(r[2] == "active" for r in rows) else 1
    sources = _sources(args)
    path = sources.root / "build" / LAST_SIM
    if not path.is_file():
        raise CliError("no simulated deploy yet: run `kfbundle deploy` (or pass --model NAME)")
    record = json.loads(path.read_text())
    out.line(
        f"simulated model, deployed {record['when']}: Kubeflow {record['release']}"
        f" ({record['arch']}){' + ' + ', '.join(record['overlays']) if record['overlays'] else ''}"
    )
    out.table(["App", "Charm", "Status", "Message"], record["statuses"])
    return 0


def _add_render_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--release", default="latest", help="release track: 1.10, 1.11 or latest")
    p.add_argument("--arch", default="amd64", choices=ARCHES, help="target architecture")
    p.add_argument("--overlay", default="", help="comma-separated overlays: cos, mlflow")
    p.add_argument(
        "--local-charms", metavar="DIR", help="use packed .charm files from DIR for our charms"
    )
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="omit applications unavailable on --arch (and their relations) instead of refusing",
    )
    p.add_argument("--root", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kfbundle",
        description="Render, check, draw and deploy the Kubeflow-on-Juju bundle.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser("render", help="write a Juju bundle for a release and architecture")
    _add_render_options(render)
    render.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    render.set_defaults(func=_cmd_render)

    check = sub.add_parser(
        "check", help="check a bundle: endpoints, interfaces, trust, architectures, COS wiring"
    )
    check.add_argument("file", nargs="?", help="a bundle file (default: render one)")
    _add_render_options(check)
    check.add_argument(
        "--check-arch",
        choices=ARCHES,
        help="architecture to check FILE for (default: from its constraints, else amd64)",
    )
    check.set_defaults(func=_cmd_check)

    graph = sub.add_parser("graph", help="draw applications and relations (SVG, or PNG)")
    graph.add_argument("file", nargs="?", help="a bundle file (default: render one)")
    _add_render_options(graph)
    graph.add_argument("-o", "--output", metavar="FILE", help="FILE.svg or FILE.png")
    graph.set_defaults(func=_cmd_graph)

    deploy = sub.add_parser(
        "deploy", help="deploy the bundle (into the embedded simulated model unless --model)"
    )
    _add_render_options(deploy)
    deploy.add_argument("--model", help="a real Juju model to deploy into (jubilant)")
    deploy.add_argument(
        "--timeout", type=float, default=3600, help="seconds to wait for active/idle (--model)"
    )
    deploy.add_argument(
        "--max-hooks", type=int, default=3000, help="cap on simulated hook runs (reported if hit)"
    )
    deploy.add_argument("--all", action="store_true", help="list the stand-ins too")
    deploy.add_argument("-v", "--verbose", action="store_true", help="show charm tracebacks")
    deploy.set_defaults(func=_cmd_deploy)

    status = sub.add_parser("status", help="status of the last simulated deploy, or of --model")
    status.add_argument("--model", help="a real Juju model")
    status.add_argument("--root", help=argparse.SUPPRESS)
    status.set_defaults(func=_cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kfbundle` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Output(quiet=args.quiet)
    try:
        return int(args.func(args, out))
    except CliError as err:
        out.error(str(err))
        return 2
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
