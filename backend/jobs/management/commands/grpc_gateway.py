from django.core.management.base import BaseCommand

from backend.grpc_gateway.server import serve_forever


class Command(BaseCommand):
    help = "Serve the gRPC gateway (gan.v1.GenerationService, health and reflection) until SIGTERM or Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--address", default="127.0.0.1:50051", help="host:port to bind (default 127.0.0.1:50051)")
        parser.add_argument("--max-workers", type=int, default=8, help="handler threads; each open stream occupies one")
        parser.add_argument("--grace", type=float, default=5.0, help="seconds calls in flight may finish on shutdown")

    def handle(self, *args, address, max_workers, grace, **options):
        serve_forever(address, max_workers, grace)
