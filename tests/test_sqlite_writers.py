"""Two writers on the SQLite file: a transaction that read first must not fail when another write commits."""

import threading

import pytest
from django.db import connection, connections, transaction

from backend.jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="only SQLite has this locking behaviour")
def test_read_then_write_survives_other_commit():
    """In WAL mode a deferred transaction would fail at its first write with "database is locked"."""
    other_committed = threading.Event()
    errors = []

    def reader_then_writer():
        try:
            with transaction.atomic():
                Job.objects.filter(seed=1).exists()
                # With IMMEDIATE transactions the other writer waits for this one, so this times out.
                other_committed.wait(timeout=1)
                Job.objects.create(digit=1, count=1, seed=1)
        except Exception as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    def other_writer():
        try:
            Job.objects.create(digit=2, count=1, seed=2)
            other_committed.set()
        except Exception as error:  # noqa: BLE001 - collected for the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    first = threading.Thread(target=reader_then_writer)
    first.start()
    # Give the first thread time to open its transaction and read.
    threading.Event().wait(0.2)
    second = threading.Thread(target=other_writer)
    second.start()
    first.join(30)
    second.join(30)

    assert errors == []
    assert Job.objects.count() == 2
