import grpc
import pytest

from backend.grpc_gateway.server import CHANNEL_OPTIONS, create_gateway
from protos.gan.v1 import generation_pb2_grpc


@pytest.fixture(scope="module")
def gateway():
    """A real gateway on a free loopback port with a single handler thread, so a stuck handler would show."""
    server = create_gateway("127.0.0.1:0", max_workers=1)
    yield server
    server.stop(grace=1)


@pytest.fixture
def channel(gateway):
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}", options=CHANNEL_OPTIONS) as channel:
        yield channel


@pytest.fixture
def stub(channel):
    return generation_pb2_grpc.GenerationServiceStub(channel)
