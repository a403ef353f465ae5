"""Entry points for each long-running process: ``python -m backend.serve web|worker|gateway|beat``.

The launcher (``./run``) and docker-compose both start processes through here, so
a process runs with the same options in either place.
"""

import argparse
import os
import sys


def web_command(args):
    return [sys.executable, "-m", "gunicorn", "backend.wsgi:application", "--bind", f"{args.host}:{args.port}",
            "--workers", str(args.processes), "--access-logfile", "-", "--graceful-timeout", "10",
            # Threads, so a request waiting on a job (Prefer: wait) does not hold a whole process.
            "--worker-class", "gthread", "--threads", str(args.threads)]


def worker_command(args):
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "-Q", args.queues,
               "--concurrency", str(args.processes), "--pool", args.pool, "--loglevel", "INFO",
               "--without-gossip", "--without-mingle", "--hostname", f"{args.queues.replace(',', '-')}-{os.getpid()}@%h"]
    if "train" in args.queues.split(","):
        # One training run per worker: a prefetched run would wait behind the current one.
        # Generate workers keep the settings' prefetch, which lets them buffer a batch of jobs.
        command += ["--prefetch-multiplier", "1"]
    return command


def gateway_command(args):
    return [sys.executable, "manage.py", "grpc_gateway", "--address", f"{args.host}:{args.port}",
            "--max-workers", str(args.threads)]


def beat_command(args):
    schedule = os.path.join(os.environ.get("GAN_VAR_DIR", "var"), "celerybeat-schedule")
    return [sys.executable, "-m", "celery", "-A", "worker", "beat", "--loglevel", "INFO", "--schedule", schedule]


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m backend.serve", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="process", required=True)

    web = commands.add_parser("web", help="the Django app under gunicorn")
    web.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=8000)
    web.add_argument("--processes", type=int, default=2, help="gunicorn worker processes (default 2)")
    web.add_argument("--threads", type=int, default=8, help="request threads per process (default 8)")
    web.set_defaults(command=web_command)

    worker = commands.add_parser("worker", help="a Celery worker")
    worker.add_argument("--queues", default="generate", help="comma-separated queues to consume (default generate)")
    worker.add_argument("--processes", type=int, default=1, help="pool processes (default 1)")
    worker.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    worker.set_defaults(command=worker_command)

    gateway = commands.add_parser("gateway", help="the gRPC gateway")
    gateway.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    gateway.add_argument("--port", type=int, default=50051)
    gateway.add_argument("--threads", type=int, default=8, help="handler threads; each open stream occupies one")
    gateway.set_defaults(command=gateway_command)

    beat = commands.add_parser("beat", help="Celery beat, which runs the periodic retention sweep")
    beat.set_defaults(command=beat_command)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    command = args.command(args)
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
