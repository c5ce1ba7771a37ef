"""Sources and clients for the API tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from costreport.api.app import ApiSettings, create_app
from costreport.model.cluster import ClusterData
from costreport.model.errors import SourceUnavailable
from costreport.model.window import Window
from costreport.sources.sample import SampleSource
from tests.engine.tiny_cluster import tiny_cluster

TINY_DAY = "2026-11-01T00:00:00Z,2026-11-02T00:00:00Z"
ClientFactory = Callable[[web.Application], Awaitable[TestClient]]


class TinySource:
    """The hand-computed tiny cluster as a source."""

    name = "tiny"

    def __init__(self) -> None:
        self.calls = 0

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        self.calls += 1
        return tiny_cluster()

    async def check(self) -> None:
        return None


class DownSource:
    """A source whose backend is down."""

    name = "down"

    async def cluster_data(
        self, window: Window, *, resolution_seconds: float, step_seconds: float | None = None
    ) -> ClusterData:
        raise SourceUnavailable("prometheus at http://127.0.0.1:1 refused the connection")

    async def check(self) -> None:
        raise SourceUnavailable("prometheus at http://127.0.0.1:1 refused the connection")


@pytest.fixture(scope="session")
def sample_source() -> SampleSource:
    """One sample cluster for the whole session (generation is the slow part)."""
    return SampleSource()


@pytest.fixture
async def tiny_client(aiohttp_client: ClientFactory) -> TestClient:
    return await aiohttp_client(create_app(TinySource(), ApiSettings()))


@pytest.fixture
async def sample_client(aiohttp_client: ClientFactory, sample_source: SampleSource) -> TestClient:
    return await aiohttp_client(create_app(sample_source, ApiSettings()))


@pytest.fixture
async def down_client(aiohttp_client: ClientFactory) -> TestClient:
    return await aiohttp_client(create_app(DownSource(), ApiSettings()))
