"""One way to open the store: the CLI and the API read the same settings the Dagster resource does."""

from __future__ import annotations

from pathlib import Path

import pytest

from movrec_dagster.core.vectorstore import EdgeStore, QdrantServerStore, StoreSettings, open_store


def test_cli_and_api_settings_reach_the_client_from_the_environment(tmp_path: Path) -> None:
    env = {
        "QDRANT_URL": "http://127.0.0.1:6333",
        "QDRANT_API_KEY": "k3y",
        "QDRANT_TIMEOUT_S": "12",
        "QDRANT_PREFER_GRPC": "true",
        "QDRANT_SHARD_NUMBER": "6",
    }
    store = open_store(tmp_path, StoreSettings.from_env(env))
    assert isinstance(store, QdrantServerStore)
    remote = store.client._client
    assert (remote._host, remote._port, remote._api_key) == ("127.0.0.1", 6333, "k3y")
    assert remote._timeout == 12 and remote._prefer_grpc is True and store.cluster == {"shard_number": 6}


def test_without_a_url_the_embedded_engine_and_bad_numbers_are_named(tmp_path: Path) -> None:
    assert isinstance(open_store(tmp_path, StoreSettings.from_env({})), EdgeStore)
    with pytest.raises(ValueError, match="QDRANT_TIMEOUT_S must be a whole number"):
        StoreSettings.from_env({"QDRANT_TIMEOUT_S": "soon"})
