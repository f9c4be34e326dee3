"""d2sd_mlx.atomic: a file is replaced whole or not at all, and no temporary file is left behind."""

import json

import pytest

from d2sd_mlx.atomic import atomic_file, write_json, write_text


def test_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    f = tmp_path / "sub" / "state.json"
    write_json(f, {"a": 1})
    write_json(f, {"a": 2})
    assert json.loads(f.read_text()) == {"a": 2} and f.read_text().endswith("\n")
    assert [p.name for p in f.parent.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_content_and_removes_the_temporary_file(tmp_path):
    f = tmp_path / "shard.safetensors"
    write_text(f, "old")
    with pytest.raises(RuntimeError):
        with atomic_file(f) as tmp:
            assert tmp.parent == f.parent and tmp.suffix == ".safetensors" and tmp != f
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert f.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["shard.safetensors"]
