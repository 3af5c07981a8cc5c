"""The sync code generated from the async code (tools/async_to_sync.py): the generated files are
up to date, every sync/async pair has the same methods with the same signatures, the transformer
does what it says, and the generated sync side works."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest

from leadledger.campaigns.client import AsyncCampaignsClient, CampaignsClient
from leadledger.db import AsyncDatabase, Database, Settings
from leadledger.db.calls import AsyncCaller, SyncCaller
from leadledger.etl.client import AsyncEtlClient, EtlClient
from leadledger.etl.models import EtlState
from leadledger.leads.client import AsyncLeadsClient, LeadsClient
from leadledger.orgs.client import AsyncOrgsClient, OrgsClient


def _load_tool() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tools" / "async_to_sync.py"
    spec = importlib.util.spec_from_file_location("async_to_sync", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()

PAIRS: list[tuple[type, type]] = [
    (AsyncDatabase, Database),
    (AsyncCaller, SyncCaller),
    (AsyncCampaignsClient, CampaignsClient),
    (AsyncOrgsClient, OrgsClient),
    (AsyncLeadsClient, LeadsClient),
    (AsyncEtlClient, EtlClient),
]

# ---------------------------------------------------------------------------------------------
# The generated files are up to date
# ---------------------------------------------------------------------------------------------


def test_every_original_has_its_generated_file() -> None:
    names = {s.relative_to(tool.PACKAGE).as_posix() for s in tool.sources()}
    assert names >= {
        "db/database_async.py",
        "campaigns/client_async.py",
        "leads/client_async.py",
        "etl/client_async.py",
    }


@pytest.mark.parametrize("source", tool.sources(), ids=lambda p: p.relative_to(tool.PACKAGE).as_posix())
def test_generated_file_is_up_to_date(source: Path) -> None:
    target = tool.target_of(source)
    assert target.exists(), f"{target} is missing: run `python tools/async_to_sync.py`"
    assert tool.generate(source) == target.read_text(encoding="utf-8"), (
        f"{target.name} is stale: run `python tools/async_to_sync.py`"
    )


def test_check_mode_reports_nothing_stale(capsys: pytest.CaptureFixture[str]) -> None:
    assert tool.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_check_mode_lists_stale_and_orphaned_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_bytes((tool.ROOT / "pyproject.toml").read_bytes())
    package = tmp_path / "src" / "leadledger" / "demo"
    package.mkdir(parents=True)
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "PACKAGE", tmp_path / "src" / "leadledger")
    source = package / "thing_async.py"
    source.write_text("async def go() -> None:\n    return None\n")

    assert tool.main(["--check"]) == 1
    assert capsys.readouterr().err.startswith("stale: src/leadledger/demo/thing_sync.py\n")
    assert tool.main([]) == 0
    assert (package / "thing_sync.py").read_text().endswith("def go() -> None:\n    return None\n")
    assert tool.main(["--check"]) == 0

    (package / "thing_sync.py").write_text((package / "thing_sync.py").read_text() + "X = 1\n")
    capsys.readouterr()
    assert tool.main(["--check"]) == 1
    assert "stale: src/leadledger/demo/thing_sync.py" in capsys.readouterr().err

    source.unlink()
    assert tool.main(["--check"]) == 2
    assert "its original is gone" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Conformance: the same methods, the same signatures, modulo Async and await
# ---------------------------------------------------------------------------------------------

#: Dunders that belong to a class's interface; other names starting with "_" are private.
INTERFACE_DUNDERS = {"__init__", "__enter__", "__exit__", "__aenter__", "__aexit__"}


def interface(cls: type) -> dict[str, Any]:
    return {
        name: getattr(cls, name)
        for name in dir(cls)
        if callable(getattr(cls, name)) and (not name.startswith("_") or name in INTERFACE_DUNDERS)
    }


def shape(method: Any) -> tuple[Any, ...]:
    """Parameters (name, kind, default, annotation) and return annotation, async names mapped."""
    signature = inspect.signature(method)
    params = tuple(
        (p.name, p.kind, repr(p.default), tool.rename(str(p.annotation)))
        for p in signature.parameters.values()
    )
    return params, tool.rename(str(signature.return_annotation))


def differences(async_cls: type, sync_cls: type) -> list[str]:
    found: list[str] = []
    async_side = {tool.rename(name): method for name, method in interface(async_cls).items()}
    sync_side = interface(sync_cls)
    for name in sorted(async_side.keys() - sync_side.keys()):
        found.append(f"{name}: only on {async_cls.__name__}")
    for name in sorted(sync_side.keys() - async_side.keys()):
        found.append(f"{name}: only on {sync_cls.__name__}")
    for name in sorted(async_side.keys() & sync_side.keys()):
        if shape(async_side[name]) != shape(sync_side[name]):
            found.append(f"{name}: {shape(async_side[name])} != {shape(sync_side[name])}")
        if inspect.iscoroutinefunction(sync_side[name]):
            found.append(f"{name}: a coroutine on {sync_cls.__name__}")
    return found


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=lambda c: c.__name__)
def test_pair_conforms(async_cls: type, sync_cls: type) -> None:
    assert differences(async_cls, sync_cls) == []


def test_database_methods_are_async_on_the_async_side() -> None:
    for name in ("connect", "open", "close", "__aenter__", "__aexit__", "call", "fetch"):
        assert inspect.iscoroutinefunction(getattr(AsyncDatabase, name)), name


def test_drift_is_reported() -> None:
    class AsyncSide:
        async def same(self, x: int) -> int:
            return x

        async def changed(self, x: int, y: str = "a") -> int:
            return x

        async def only_async(self) -> None:
            return None

    class SyncSide:
        def same(self, x: int) -> int:
            return x

        def changed(self, x: int, y: str = "b") -> int:
            return x

        def only_sync(self) -> None:
            return None

    found = differences(AsyncSide, SyncSide)
    assert [f.split(":")[0] for f in found] == ["only_async", "only_sync", "changed"]


# ---------------------------------------------------------------------------------------------
# The transformer
# ---------------------------------------------------------------------------------------------

EXAMPLE = '''"""An AsyncCaller example."""

from __future__ import annotations

import anyio.to_thread

from leadledger.db.database_async import AsyncDatabase


def blocking(x: int) -> int:
    return x


class AsyncCaller:
    """Uses an AsyncDatabase."""

    # The pool of the AsyncDatabase is opened by __aenter__.
    async def __aenter__(self) -> AsyncCaller:
        return self

    async def go(self, db: AsyncDatabase) -> list[int]:
        async with db.pool.connection():
            # Blocking work off the event loop.
            value = await anyio.to_thread.run_sync(blocking, 1)
        return [item async for item in db.rows(value)]
'''


def convert(text: str) -> str:
    return tool.convert(text, "example_async.py", tool.PACKAGE / "example_sync.py")


def test_transformer_maps_async_constructs_names_and_comments() -> None:
    out = convert(EXAMPLE)
    header, body = out.split('"""', 1)
    assert header.startswith(
        "# WARNING: this file is generated from example_async.py by tools/async_to_sync.py."
    )
    assert "# DO NOT CHANGE! Change the original file instead." in header
    assert "async" not in body.lower()
    assert "await" not in body
    assert "from leadledger.db.database_sync import Database\n" in body
    assert "anyio" not in body
    assert '"""Uses an Database."""' in body
    assert (
        "    # The pool of the Database is opened by __enter__.\n    def __enter__(self) -> SyncCaller:"
        in body
    )
    assert "        with db.pool.connection():\n            # Blocking work off the event loop.\n" in body
    assert "value = blocking(1)" in body
    assert "return [item for item in db.rows(value)]" in body


def test_transformer_refuses_a_comment_it_would_lose() -> None:
    with pytest.raises(tool.GenerationError, match=r"example_async.py:2: a comment after code"):
        convert("async def f() -> None:\n    return None  # lost\n")
    with pytest.raises(tool.GenerationError, match="inside brackets"):
        convert("X = [\n    # lost\n    1,\n]\n")


def test_transformer_refuses_an_unmapped_async_name() -> None:
    with pytest.raises(tool.GenerationError, match="AsyncUnknown; map it in NAMES"):
        convert("class AsyncUnknown:\n    pass\n")


# ---------------------------------------------------------------------------------------------
# The generated sync side works
# ---------------------------------------------------------------------------------------------


def test_sync_database_opens_its_pool_as_a_context_manager(db_url: str, settings: Settings) -> None:
    with Database(db_url, settings) as db:
        assert not db.pool.closed
        counts = EtlClient(db).state_counts()
        assert isinstance(counts, list)
        assert db.call("etl_api.logger", p_level="info", p_message="context manager")["success"]
    assert db.pool.closed


def test_sync_connect_with_a_url(db_url: str, settings: Settings) -> None:
    with Database.connect(settings, url=db_url) as db:
        assert db.url == db_url
        assert isinstance(db.fetch("etl_api.get_state_counts"), list)
    assert db.pool.closed


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_sync_leads_client_has_the_methods_once_only_async(database: Database) -> None:
    client = LeadsClient(database)
    orgs = OrgsClient(database)
    user = orgs.create_user("sync-owner@example.com", "Owner").user_id
    orgs.create_api_key(user, key_hash("llk_sync"))
    found = orgs.authenticate_api_key(key_hash("llk_sync"))
    assert found is not None
    assert found.user_id == user
    assert orgs.authenticate_api_key(key_hash("llk_other")) is None
    client.link_whatsapp_number(user, "106540352242001")
    assert client.whatsapp_number_owner("106540352242001") == user
    sent = client.record_whatsapp_outgoing(
        user, "+14155550101", "Hello", "wamid.sync-1", create_lead=True, customer_name="Ann"
    )
    assert client.find_lead_by_phone(user, "+14155550101") == sent.lead_id


@pytest.mark.anyio
async def test_async_clients_have_the_methods_once_only_sync(async_database: AsyncDatabase) -> None:
    client = AsyncLeadsClient(async_database)
    user = (await AsyncOrgsClient(async_database).create_user("async-owner@example.com")).user_id
    linked = await client.link_whatsapp_number(user, "106540352242002", "+1 555")
    assert linked["success"]
    assert await client.whatsapp_number_owner("106540352242002") == user
    imported = await client.import_leads(
        user, [{"customer_phone": "+14155550102", "customer_name": "Bo", "lead_type": "inquiry"}]
    )
    assert imported.created == 1
    assert isinstance(await client.find_lead_by_phone(user, "+14155550102"), UUID)

    etl = AsyncEtlClient(async_database)
    assert (await etl.map_legacy_status("ACTIVITY_PROCESSED")).state is EtlState.READY
    assert await etl.log("info", "from the async client", {"source": "test"}) > 0
