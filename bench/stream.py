"""Benchmark GenerateStream: images per second of one large streamed job, beside the generator alone.

``python -m bench.stream`` starts the service with the gRPC gateway in a temporary
folder (as ``bench.rest`` does) and streams a job of ``--count`` images (10,000 by
default, the most one stream takes). It reports images per second from sending the
request to receiving the last image, and the time to the first image, as medians of
``--repeats`` streams after one short warm-up stream. In the same run and process it
measures the generator alone at batch 64, the worker's batch size, with and without
PNG encoding, and divides the stream's rate by both. ``--quick`` streams 50 images,
for the smoke test.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import grpc
import torch

from gan_core.sampling import generate, to_png
from protos.gan.v1 import generation_pb2 as pb
from protos.gan.v1 import generation_pb2_grpc

from .generator import median_rate
from .load import write_json
from .reference import ReferenceImages
from .report import machine_description, markdown_table, ratio
from .rest import add_service_arguments
from .stack import ServiceStack

# The gateway's own limits (backend/grpc_gateway/server.py): 16 MiB per message each way.
CHANNEL_OPTIONS = [("grpc.max_send_message_length", 16 << 20), ("grpc.max_receive_message_length", 16 << 20)]
DIGIT = 3


def stream_images(stub, *, count, seed, reference):
    """Stream one job; return ``(seconds to the first image, seconds to the last)``, checking order and one image."""
    deadline = max(120.0, count / 20)
    start = time.perf_counter()
    first_image_seconds = None
    received = 0
    for message in stub.GenerateStream(pb.GenerateRequest(digit=DIGIT, count=count, seed=seed), timeout=deadline):
        if first_image_seconds is None:
            first_image_seconds = time.perf_counter() - start
            reference.assert_png_matches(message.png, DIGIT, seed, "GenerateStream")
        assert message.index == received, f"image {message.index} arrived where {received} was expected"
        received += 1
    last_image_seconds = time.perf_counter() - start
    assert received == count, f"the stream ended after {received} of {count} images"
    return first_image_seconds, last_image_seconds


def measure_generator_batch(reference, *, batch, threads, repeats, seconds):
    """Return images per second of the generator alone at ``batch``: forward only, and with one PNG per image."""
    torch.set_num_threads(threads)
    generator = reference.generator
    latent, labels = torch.randn(batch, generator.config.latent_dim), torch.randint(0, 10, (batch,))

    def forward():
        with torch.no_grad():
            generator(latent, labels)

    seeds, digits = list(range(batch)), [DIGIT] * batch

    def forward_and_encode():
        for image in generate(generator, digits, seeds):
            to_png(image)

    return (median_rate(forward, batch, repeats, seconds), median_rate(forward_and_encode, batch, repeats, seconds))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="images per stream, 1-10,000 (default 10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="streams measured; the median is reported (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads for the generator alone (default: the number of cores)")
    add_service_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="50 images, one stream (smoke test; figures mean little)")
    parser.add_argument("--json", type=Path, help="also write every stream and the medians to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.repeats = 50, 1
    if not 1 <= args.count <= 10_000:
        parser.error(f"--count must be from 1 to 10,000, got {args.count}")
    reference = ReferenceImages()

    print("measuring the generator alone at batch 64", file=sys.stderr, flush=True)
    forward_rate, encode_rate = measure_generator_batch(reference, batch=64, threads=args.threads,
                                                        repeats=3 if not args.quick else 1,
                                                        seconds=0.05 if args.quick else 2.0)
    stack = ServiceStack(database_url=args.database_url, worker_processes=args.worker_processes, gateway=True).start()
    streams = []
    try:
        with grpc.insecure_channel(f"127.0.0.1:{stack.grpc_port}", options=CHANNEL_OPTIONS) as channel:
            stub = generation_pb2_grpc.GenerationServiceStub(channel)
            # The worker loads the generator on its first job; that job is not measured.
            stream_images(stub, count=min(args.count, 64), seed=1, reference=reference)
            for repeat in range(args.repeats):
                stack.wait_until_idle()
                first, last = stream_images(stub, count=args.count, seed=1_000_000 * (repeat + 1), reference=reference)
                streams.append({"first_image_seconds": first, "last_image_seconds": last,
                                "images_per_second": args.count / last})
                print(f"stream {repeat + 1}/{args.repeats}: {args.count / last:,.0f} images/s, first image after "
                      f"{first * 1000:.0f} ms", file=sys.stderr, flush=True)
        description = stack.description()
    finally:
        stack.stop()

    rate = statistics.median(stream["images_per_second"] for stream in streams)
    first = statistics.median(stream["first_image_seconds"] for stream in streams)
    print(f"Machine: {machine_description()}. Service: {description}. Median of {args.repeats} streams of "
          f"{args.count:,} images (digit {DIGIT}); generator alone with {args.threads} torch threads, in this process.\n")
    print(markdown_table(["measurement", "value"], [
        ["GenerateStream, request to last image", f"{rate:,.0f} images/s"],
        ["GenerateStream, time to first image", f"{first * 1000:,.0f} ms"],
        ["generator alone, batch 64", f"{forward_rate:,.0f} images/s"],
        ["generator + PNG encoding alone, batch 64", f"{encode_rate:,.0f} images/s"],
        ["stream / generator alone, batch 64", ratio(rate, forward_rate)],
        ["stream / generator + PNG alone, batch 64", ratio(rate, encode_rate)],
    ]))
    if args.json:
        write_json(args.json, {
            "machine": machine_description(), "service": description, "count": args.count, "streams": streams,
            "images_per_second": rate, "first_image_seconds": first,
            "generator_batch_64_images_per_second": forward_rate,
            "generator_and_png_batch_64_images_per_second": encode_rate,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
