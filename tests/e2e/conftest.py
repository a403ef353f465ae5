from tests.grpc.conftest import channel, gateway, stub  # noqa: F401  (shared gRPC fixtures)
