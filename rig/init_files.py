"""``rig init``: a start from nothing. Commented files to edit: the bench config (at the default location unless
told otherwise), a wrap profile and a test sequence, copied from the shipped, commented examples."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rig.wiring import shipped

PROFILE_NAME, SEQUENCE_NAME = "my-wrap.toml", "standard.toml"


def bench_target() -> Path:
    """Where the bench config goes by default: ``$RIG_BENCH``, else ``~/.config/rig/bench.toml`` (XDG respected),
    the same places every command reads it from."""
    from rig.config import BENCH_ENV

    if os.environ.get(BENCH_ENV):
        return Path(os.environ[BENCH_ENV])
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "rig" / "bench.toml"


@dataclass
class InitResult:
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    bench: Path | None = None
    profile: Path | None = None
    sequence: Path | None = None


def _headed(source: str, what: str) -> str:
    return (f"# {what}: written by `rig init` from rig/data/{Path(source).name}; edit it, every key is explained.\n"
            + Path(source).read_text(encoding="utf-8"))


def init_files(folder: Path, bench: Path | None = None, force: bool = False) -> InitResult:
    """Write the three files (each checked by rig's own loader first); an existing file is kept unless ``force``."""
    from rig.config import load_bench_config
    from rig.profile import load_profile
    from rig.results.writer import write_text_atomic
    from rig.sequence import load_sequence

    result = InitResult(bench=bench or bench_target(), profile=folder / PROFILE_NAME,
                        sequence=folder / SEQUENCE_NAME)
    plan = ((result.bench, _headed(shipped("bench.toml"), "bench config"), load_bench_config),
            (result.profile, _headed(shipped("example_profile.toml"), "wrap profile (the maker's claims)"),
             load_profile),
            (result.sequence, _headed(shipped("example_sequence.toml"), "test sequence"), load_sequence))
    for path, text, load in plan:
        if path.exists() and not force:
            result.kept.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
        load(path)  # what rig writes, rig reads back
        result.written.append(path)
    return result
