"""Build and run the gateway server with health checking and reflection."""

import logging
import signal
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from protos.gan.v1 import generation_pb2

from .servicer import GenerationServicer, add_generation_service

logger = logging.getLogger(__name__)

SERVICE_NAME = generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name
# 16 MiB each way: far above one 64-image job (a 28x28 PNG is under 1 KB), so only a
# misbehaving peer reaches it. Clients should set the same limits on their channel.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]


class Gateway:
    """A started server, its bound port, and the health servicer that reports its state."""

    def __init__(self, server, port, health_servicer):
        self.server, self.port, self.health = server, port, health_servicer

    def stop(self, grace=5.0):
        """Report NOT_SERVING, then stop, letting calls in flight finish for ``grace`` seconds."""
        self.health.enter_graceful_shutdown()
        logger.info("gateway on port %d stopping (grace %.1f s)", self.port, grace)
        self.server.stop(grace).wait()


def create_gateway(address="127.0.0.1:0", max_workers=8) -> Gateway:
    """Start a gateway on ``address``; port 0 picks a free port, returned in ``Gateway.port``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"),
                         options=CHANNEL_OPTIONS)
    add_generation_service(GenerationServicer(), server)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind the gRPC gateway to {address}")
    server.start()
    logger.info("gRPC gateway serving %s on port %d with %d handler threads", SERVICE_NAME, port, max_workers)
    return Gateway(server, port, health_servicer)


def serve_forever(address, max_workers, grace):
    """Run until SIGTERM or SIGINT, then shut down gracefully."""
    gateway = create_gateway(address, max_workers)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    # The kernel may deliver the signal to one of gRPC's threads. Python then runs the handler
    # only when the main thread next runs bytecode, and a wait with no timeout would never return.
    while not stopping.wait(timeout=0.5):
        pass
    gateway.stop(grace)
