"""Entry point: ``python3 -m dispatcher --manifests FILE --label KEY=VALUE --owner APP ...``.

Only the standard library is imported until the dependency bundle is on `sys.path`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from .vendor import VendorError, activate

DEFAULT_BUNDLE = "/opt/dispatcher/vendor.zip"
logger = logging.getLogger("dispatcher")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="dispatcher", description=__doc__)
    parser.add_argument("--manifests", required=True, type=Path, help="manifests file (JSON)")
    parser.add_argument("--label", required=True, help="target namespace label, key=value")
    parser.add_argument("--owner", required=True, help="app name (label of dispatched objects)")
    parser.add_argument("--owner-namespace", required=True, help="the app's model/namespace")
    parser.add_argument("--metrics-port", type=int, default=9090)
    parser.add_argument("--status-file", type=Path, default=None)
    parser.add_argument("--bundle", type=Path, default=Path(DEFAULT_BUNDLE))
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument(
        "--standby", action="store_true", help="serve health and metrics only (non-leader)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the controller until SIGTERM/SIGINT."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    if args.standby:
        return standby(args)
    if args.bundle.exists():
        try:
            activate(args.bundle)
        except VendorError as err:
            logger.error("%s", err)
            _fail(args.status_file, str(err))
            return 2

    from lightkube import Client

    from .handoff import HandoffError, LabelSelector
    from .kube import Owner
    from .metrics import Metrics, serve
    from .reconciler import Dispatcher
    from .runner import Runner

    try:
        selector = LabelSelector.parse(args.label)
    except HandoffError as err:
        logger.error("--label: %s", err)
        _fail(args.status_file, f"invalid target label: {err}")
        return 2
    metrics = Metrics()
    client = Client(field_manager=args.owner)
    dispatcher = Dispatcher(client, Owner(args.owner, args.owner_namespace), selector, metrics)
    runner = Runner(dispatcher, args.manifests, args.status_file, args.poll_interval)
    server = serve(metrics, args.metrics_port, ready=lambda: dispatcher.synced)

    def _stop(signum: int, _frame: object) -> None:
        logger.info("signal %d: stopping", signum)
        runner.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logger.info(
        "dispatching to namespaces labelled %s as %s/%s; metrics on :%d",
        selector,
        args.owner_namespace,
        args.owner,
        args.metrics_port,
    )
    try:
        runner.run()
    finally:
        server.shutdown()
    return 0


def standby(args: argparse.Namespace) -> int:
    """Serve health and metrics without touching Kubernetes, until SIGTERM/SIGINT."""
    import threading

    from .handoff import ControllerStatus
    from .metrics import Metrics, serve

    stop = threading.Event()
    metrics = Metrics()
    metrics.standby.set(1)
    server = serve(metrics, args.metrics_port, ready=lambda: True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.status_file is not None:
        status = ControllerStatus(state="ready", message="standby: the leader unit dispatches")
        try:
            args.status_file.parent.mkdir(parents=True, exist_ok=True)
            args.status_file.write_text(status.encode())
        except OSError:
            pass
    logger.info("standby: the leader unit dispatches")
    stop.wait()
    server.shutdown()
    return 0


def _fail(status_file: Path | None, message: str) -> None:
    if status_file is None:
        return
    from .handoff import ControllerStatus

    try:
        status_file.parent.mkdir(parents=True, exist_ok=True)
        status_file.write_text(ControllerStatus(state="failed", message=message).encode())
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
