"""Status codes for bad input and unavailable dependencies; health checking and reflection."""

import subprocess
import sys
import uuid

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from backend.grpc_gateway.server import CHANNEL_OPTIONS, SERVICE_NAME, create_gateway
from backend.jobs.models import Job
from backend.processes import REPO_ROOT, free_port, stop_process, wait_for_port
from protos.gan.v1 import generation_pb2 as pb

pytestmark = pytest.mark.django_db(transaction=True)


def call_error(call, request):
    with pytest.raises(grpc.RpcError) as raised:
        result = call(request, timeout=10)
        if not isinstance(result, pb.Job):
            list(result)  # a stream raises on iteration
    return raised.value


@pytest.mark.parametrize("method, request_fields, field", [
    ("Generate", {"digit": 10}, "digit"),
    ("Generate", {"digit": -1}, "digit"),
    ("Generate", {"count": 0}, "count"),
    ("Generate", {"count": -5}, "count"),
    ("Generate", {"seed": -1}, "seed"),
    ("GenerateStream", {"digit": 12}, "digit"),
    ("GenerateStream", {"count": 0}, "count"),
    ("GenerateStream", {"count": 10_001}, "count"),
    ("GenerateStream", {"seed": -7}, "seed"),
    ("GenerateStream", {"grid": pb.GridSpec(digits=[1, 1])}, "digits"),
    ("GenerateStream", {"grid": pb.GridSpec(seeds_per_digit=17)}, "seeds_per_digit"),
    ("GenerateStream", {"digit": 1, "grid": pb.GridSpec()}, "digit"),
    ("Generate", {"interpolation": pb.InterpolationSpec(frames=1)}, "frames"),
    ("Generate", {"seed": 4, "interpolation": pb.InterpolationSpec()}, "seed"),
    ("Generate", {"dataset": "emnist"}, "dataset"),
    ("GenerateStream", {"dataset": "Fashion"}, "dataset"),
    ("Generate", {"dataset": "cifar", "grid": pb.GridSpec()}, "dataset"),
])
def test_invalid_argument_names_field(stub, method, request_fields, field):
    error = call_error(getattr(stub, method), pb.GenerateRequest(**request_fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field} must be")
    assert Job.objects.count() == 0


def test_unary_generate_too_large_points_to_stream(stub):
    error = call_error(stub.Generate, pb.GenerateRequest(digit=1, count=65))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "GenerateStream" in error.details()


@pytest.mark.parametrize("job_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_job_is_not_found(stub, job_id):
    assert call_error(stub.GetJob, pb.GetJobRequest(job_id=job_id)).code() == grpc.StatusCode.NOT_FOUND
    assert call_error(stub.CancelJob, pb.CancelJobRequest(job_id=job_id)).code() == grpc.StatusCode.NOT_FOUND


def test_empty_job_id_is_invalid_argument(stub):
    for call, request in ((stub.GetJob, pb.GetJobRequest()), (stub.CancelJob, pb.CancelJobRequest())):
        error = call_error(call, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details().startswith("job_id is required")


@pytest.mark.parametrize("method, streaming, request_type", [
    ("Generate", False, "gan.v1.GenerateRequest"),
    ("GetJob", False, "gan.v1.GetJobRequest"),
    ("CancelJob", False, "gan.v1.CancelJobRequest"),
    ("GenerateStream", True, "gan.v1.GenerateRequest"),
])
def test_undecodable_body_is_invalid_argument(channel, method, streaming, request_type):
    """Bytes that are no protobuf message are the client's fault: INVALID_ARGUMENT, not gRPC's INTERNAL."""
    path = f"/{SERVICE_NAME}/{method}"
    call = channel.unary_stream(path) if streaming else channel.unary_unary(path)  # no serializers: raw bytes
    with pytest.raises(grpc.RpcError) as raised:
        result = call(b"\xff\xff\xff\xff", timeout=10)
        if streaming:
            list(result)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details().startswith(f"the request body is not a valid {request_type} message")
    assert "protos/gan/v1/generation.proto" in raised.value.details()
    assert Job.objects.count() == 0


def test_missing_model_is_failed_precondition(stub, settings, tmp_path):
    settings.GAN = {**settings.GAN, "MODEL_PATH": str(tmp_path / "absent.pt")}
    for call in (stub.Generate, stub.GenerateStream):
        error = call_error(call, pb.GenerateRequest(digit=1))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "absent.pt" in error.details()


def test_redis_down_is_unavailable(stub, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    for call in (stub.Generate, stub.GenerateStream):
        assert call_error(call, pb.GenerateRequest(digit=1)).code() == grpc.StatusCode.UNAVAILABLE


def test_full_queue_is_resource_exhausted(stub, settings):
    settings.GAN = {**settings.GAN, "MAX_QUEUE_DEPTH": 0}
    error = call_error(stub.Generate, pb.GenerateRequest(digit=1))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "full" in error.details()


def test_health_reports_serving(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE_NAME):
        response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_health_reports_not_serving_during_shutdown():
    gateway = create_gateway("127.0.0.1:0", max_workers=2)
    try:
        gateway.health.enter_graceful_shutdown()
        with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        gateway.stop(grace=0.5)


def test_reflection_lists_and_describes_service(channel):
    database = ProtoReflectionDescriptorDatabase(channel)
    assert SERVICE_NAME in database.get_services()
    descriptor = database.FindFileContainingSymbol(SERVICE_NAME)
    assert descriptor.package == "gan.v1"
    assert [method.name for method in descriptor.service[0].method] == ["Generate", "GetJob", "CancelJob", "GenerateStream"]


def test_gateway_command_stops_gracefully_on_sigterm():
    port = free_port()
    process = subprocess.Popen([sys.executable, "manage.py", "grpc_gateway", "--address", f"127.0.0.1:{port}", "--grace", "1"],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port("127.0.0.1", port, 60, process)
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=CHANNEL_OPTIONS) as channel:
            response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        stop_process(process, timeout=15)
        assert process.returncode == 0
        assert "stopping" in process.stdout.read()
    finally:
        stop_process(process)


def test_generated_code_is_current(tmp_path):
    subprocess.run([str(REPO_ROOT / "protos" / "generate.sh"), str(tmp_path)], check=True,
                   env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    generated = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.py*"))
    assert generated
    for relative in generated:
        committed = REPO_ROOT / relative
        assert committed.read_bytes() == (tmp_path / relative).read_bytes(), (
            f"{relative} is stale; run protos/generate.sh and commit the result"
        )


def test_token_required_over_grpc(stub, settings):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    settings.GAN = {**settings.GAN, "REQUIRE_TOKEN": True}
    error = call_error(stub.GetJob, pb.GetJobRequest(job_id=str(uuid.uuid4())))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "authorization: Token" in error.details()

    token = Token.objects.create(user=User.objects.create_user("bob"))
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetJob(pb.GetJobRequest(job_id=str(uuid.uuid4())), metadata=[("authorization", f"Token {token.key}")])
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND  # authenticated, so the lookup ran
