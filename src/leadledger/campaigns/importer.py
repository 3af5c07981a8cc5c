"""Reading an Apify Google Maps dataset file and sending it in ZIP-grouped batches.

A dataset is a JSON array of items (Apify's "Export: JSON"). Items are grouped by the ZIP they
were searched for: the caller's ``zip_code`` when given, else the item's ``searchZip`` (what
leadledger's sample data carries), else its 5-digit ``postalCode``; items with none go in a
batch without ZIP. Each group is sent in batches of ``batch_size`` items.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

from leadledger.campaigns.client import CampaignsClient
from leadledger.campaigns.models import BatchResult
from leadledger.db.errors import ConfigurationError

_ZIP = re.compile(r"^[0-9]{5}$")


def load_dataset(path: Path) -> list[dict[str, Any]]:
    """Read a dataset file; a clear error when it is not a JSON array of objects."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"{path}: not a JSON dataset ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ConfigurationError(f"{path}: expected a JSON array of objects (an Apify dataset export)")
    return data


def sample_dataset() -> list[dict[str, Any]]:
    """The small Austin dentists dataset shipped with leadledger (for the demo)."""
    text = resources.files("leadledger.campaigns").joinpath("data/sample_dataset.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)
    return data


def search_zip(item: dict[str, Any]) -> str | None:
    for key in ("searchZip", "postalCode", "postal_code"):
        value = item.get(key)
        if isinstance(value, str) and _ZIP.match(value):
            return value
    return None


def batches(
    items: Sequence[dict[str, Any]], batch_size: int, zip_code: str | None = None
) -> Iterator[tuple[str | None, list[dict[str, Any]]]]:
    """(zip_code, batch) pairs in file order of first appearance of each ZIP."""
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(zip_code or search_zip(item), []).append(item)
    for key, group in groups.items():
        for start in range(0, len(group), batch_size):
            yield key, group[start : start + batch_size]


@dataclass
class ImportTotals:
    batches: int = 0
    inserted: int = 0
    updated: int = 0
    skipped: int = 0
    total: int = 0

    def add(self, result: BatchResult) -> None:
        self.batches += 1
        self.inserted += result.inserted
        self.updated += result.updated
        self.skipped += result.skipped
        self.total += result.total


def import_items(
    client: CampaignsClient,
    campaign_id: UUID,
    items: Sequence[dict[str, Any]],
    *,
    batch_size: int = 500,
    zip_code: str | None = None,
    progress: Callable[[int], None] | None = None,
    organization_id: UUID | None = None,
) -> ImportTotals:
    """Send ``items`` to the campaign in batches; ``progress(n)`` after each batch of n items.
    With ``organization_id`` the campaign must be of that organization."""
    totals = ImportTotals()
    for key, batch in batches(items, batch_size, zip_code):
        totals.add(client.save_businesses_batch(campaign_id, key, batch, organization_id))
        if progress is not None:
            progress(len(batch))
    return totals
