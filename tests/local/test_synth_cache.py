"""The synthesized template is kept between runs, and synthesized again when anything synthesis reads
changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.local.synth_cache import KEPT, cached_template, synth_key


def _repo(root: Path) -> Path:
    for name, text in {
        "infra/app.py": "app",
        "infra/state_machines/run.asl.json": "{}",
        "shared/models/tables.py": "tables",
        "functions/runs/earn.py": "handler",
        "cdk.json": "{}",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


class _Synth:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, stage: str) -> dict[str, Any]:
        self.calls += 1
        return {"Resources": {"Stage": stage, "Synthesis": self.calls}}


def test_an_unchanged_app_is_synthesized_once(tmp_path: Path) -> None:
    # GIVEN an app and an empty cache
    root, cache, synth = _repo(tmp_path / "repo"), tmp_path / "cache", _Synth()
    # WHEN its template is asked for twice, and once for another stage
    first = cached_template("dev", synth, cache_dir=cache, root=root)
    second = cached_template("dev", synth, cache_dir=cache, root=root)
    other = cached_template("prod", synth, cache_dir=cache, root=root)
    # THEN it was synthesized once per stage, and the second answer is the first
    assert synth.calls == 2 and first == second == {"Resources": {"Stage": "dev", "Synthesis": 1}}
    assert other["Resources"]["Stage"] == "prod"


@pytest.mark.parametrize(
    "change",
    ["infra/state_machines/run.asl.json", "shared/models/tables.py", "functions/runs/earn.py", "cdk.json"],
)
def test_a_change_to_anything_synthesis_reads_synthesizes_again(tmp_path: Path, change: str) -> None:
    # GIVEN a template kept for the app
    root, cache, synth = _repo(tmp_path / "repo"), tmp_path / "cache", _Synth()
    cached_template("dev", synth, cache_dir=cache, root=root)
    key = synth_key("dev", root)
    # WHEN one file synthesis reads changes (or a new one appears beside it)
    (root / change).write_text("changed")
    (root / change).with_name("new.py").write_text("new")
    again = cached_template("dev", synth, cache_dir=cache, root=root)
    # THEN the key differs and the app was synthesized again
    assert synth_key("dev", root) != key
    assert synth.calls == 2 and again["Resources"]["Synthesis"] == 2


def test_a_broken_entry_is_synthesized_over_and_old_entries_are_pruned(tmp_path: Path) -> None:
    # GIVEN a kept template whose file was cut short
    root, cache, synth = _repo(tmp_path / "repo"), tmp_path / "cache", _Synth()
    cached_template("dev", synth, cache_dir=cache, root=root)
    (entry,) = cache.glob("dev-*.json")
    entry.write_text('{"Resources": ')
    # WHEN the template is asked for, then the app changes more times than the cache keeps
    repaired = cached_template("dev", synth, cache_dir=cache, root=root)
    rewritten = json.loads(entry.read_text())
    for n in range(KEPT + 2):
        (root / "infra/app.py").write_text(f"app {n}")
        cached_template("dev", synth, cache_dir=cache, root=root)
    # THEN the broken entry was synthesized again and rewritten whole; only the newest entries stay
    assert repaired["Resources"]["Synthesis"] == 2
    assert rewritten == repaired
    assert len(list(cache.glob("dev-*.json"))) == KEPT
    assert not list(cache.glob(".staging-*"))


def test_the_context_added_to_the_app_is_part_of_the_key(tmp_path: Path) -> None:
    # GIVEN a template kept for the app as it is
    root, cache, synth = _repo(tmp_path / "repo"), tmp_path / "cache", _Synth()
    cached_template("dev", synth, cache_dir=cache, root=root)
    # WHEN it is asked for with a member-bucket count added, twice, then again without
    one = cached_template("dev", synth, cache_dir=cache, root=root, context={"member_buckets": 1})
    again = cached_template("dev", synth, cache_dir=cache, root=root, context={"member_buckets": 1})
    plain = cached_template("dev", synth, cache_dir=cache, root=root)
    # THEN the count is synthesized once, apart from the plain template, which is still kept
    assert synth.calls == 2 and one == again and plain["Resources"]["Synthesis"] == 1
    assert synth_key("dev", root, {"member_buckets": 1}) != synth_key("dev", root)
