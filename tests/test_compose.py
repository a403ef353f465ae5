"""docker-compose.yml starts each process through the same entry point as ./run."""

from pathlib import Path

import yaml

from backend.serve import build_parser

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def service_commands():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: service["command"] for name, service in services.items() if "build" in service}


def serve_arguments(command):
    words = command.split() if isinstance(command, str) else list(command)
    start = words.index("backend.serve") + 1
    return [word.strip('"') for word in words[start:]]


def test_compose_has_web_workers_and_gateway():
    assert set(service_commands()) == {"web", "worker", "train-worker", "gateway", "beat"}


def test_compose_commands_parse_as_serve_entry_points():
    processes = {}
    for name, command in service_commands().items():
        args = build_parser().parse_args(serve_arguments(command))
        processes[name] = args.process
    assert processes == {"web": "web", "worker": "worker", "train-worker": "worker", "gateway": "gateway",
                         "beat": "beat"}


def test_compose_workers_consume_separate_queues():
    queues = {name: build_parser().parse_args(serve_arguments(command)).queues
              for name, command in service_commands().items() if "worker" in name}
    assert queues == {"worker": "generate", "train-worker": "train"}


def test_compose_keeps_media_on_a_volume():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in ("web", "worker", "train-worker", "gateway"):
        assert "media:/app/var/media" in services[name]["volumes"]
