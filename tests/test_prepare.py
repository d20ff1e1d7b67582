"""Model preparation from a local folder (the GGUF path is exercised by every engine test)."""

from __future__ import annotations

import pytest

from eigscale.prepare import SourceError, prepare_model


def test_local_source_links_files_and_never_touches_the_original(tmp_path):
    src = tmp_path / "my_model"
    src.mkdir()
    (src / "config.json").write_text("{}")
    (src / "model.safetensors").write_bytes(b"weights")
    dest = prepare_model(f"local:{src}", tmp_path / "resources" / "m")
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.safetensors"]
    assert (dest / "model.safetensors").read_bytes() == b"weights"
    # what snakemake does to a job's outputs before rerunning it
    (dest / "config.json").unlink()
    assert (src / "config.json").is_file()
    again = prepare_model(f"local:{src}", dest)  # a half-emptied dest is rebuilt
    assert (again / "config.json").is_file()


def test_a_folder_without_config_is_refused_by_name(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"empty has no config\.json"):
        prepare_model(f"local:{tmp_path / 'empty'}", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    with pytest.raises(SourceError, match="unknown kind 'ftp'"):
        prepare_model("ftp:x", tmp_path / "dest")
