"""The local provider with a LoRA adapter: how it is named, and its place in the identity."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from promptsuite.errors import ConfigError
from promptsuite.models import ModelSpec, local
from promptsuite.models.local import LocalProvider, LocalSettings


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    model = tmp_path / "base.gguf"
    model.write_bytes(b"GGUF" + bytes(60))
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF-adapter")
    return model, adapter


def test_lora_is_read_from_the_model_name(files: tuple[Path, Path]) -> None:
    model, adapter = files
    settings = LocalSettings.from_spec(ModelSpec("local", f"{model}+lora:{adapter}"), {})
    assert (settings.path, settings.lora) == (model.resolve(), adapter.resolve())


def test_lora_on_the_embedded_model_and_as_an_option(files: tuple[Path, Path]) -> None:
    _, adapter = files
    named = LocalSettings.from_spec(ModelSpec("local", f"+lora:{adapter}"), {})
    option = LocalSettings.from_spec(ModelSpec("local", options=(("lora", str(adapter)),)), {})
    assert named.path is None and named.lora == option.lora == adapter.resolve()


def test_two_different_adapters_are_refused(files: tuple[Path, Path], tmp_path: Path) -> None:
    model, adapter = files
    spec = ModelSpec("local", f"{model}+lora:{adapter}", options=(("lora", "other.gguf"),))
    with pytest.raises(ConfigError, match="two LoRA adapters"):
        LocalSettings.from_spec(spec, {})


def test_a_missing_adapter_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"LoRA adapter not found: .*missing\.gguf"):
        LocalSettings.from_spec(ModelSpec("local", f"+lora:{tmp_path / 'missing.gguf'}"), {})


def test_the_adapters_digest_is_in_the_identity(files: tuple[Path, Path]) -> None:
    model, adapter = files
    plain = LocalProvider(ModelSpec("local", str(model))).identity()
    tuned = LocalProvider(ModelSpec("local", f"{model}+lora:{adapter}")).identity()
    assert "lora" not in plain
    assert tuned["lora"] == {
        "name": "adapter.gguf",
        "sha256": hashlib.sha256(b"GGUF-adapter").hexdigest(),
    }
    assert {k: v for k, v in tuned.items() if k != "lora"} == plain


def test_another_adapter_gets_another_server(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, adapter = files
    loads: list[Path | None] = []
    monkeypatch.setattr(local, "_start_server", lambda path, s: loads.append(s.lora) or object())
    try:
        plain = LocalSettings.from_spec(ModelSpec("local", str(model)), {})
        tuned = LocalSettings.from_spec(ModelSpec("local", f"{model}+lora:{adapter}"), {})
        assert local.get_server(plain) is not local.get_server(tuned)
        assert local.get_server(tuned) is local.get_server(tuned)
        assert loads == [None, adapter.resolve()]
    finally:
        local.shutdown_servers()
