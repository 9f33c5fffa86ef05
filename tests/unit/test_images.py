"""The image builder's facade: layers given explicitly, and the build cache they use."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lab.images.builder import Images, LayerBuild, LayerBuilder
from lab.images.cache import Log, hash_strings


class FakeLayer:
    """A layer builder as a suite writes one: caches its own work with images.artefacts()."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls = 0
        self.built = 0

    def __call__(self, images: Images, log: Log) -> LayerBuild:
        self.calls += 1
        target = images.build_dir / "fake" / "layer.cpio"
        key = hash_strings("fake", self.data.hex())
        with images.artefacts() as artefacts:
            if artefacts.cached("layer/fake", key) is None:
                self.built += 1
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.data)
                artefacts.record("layer/fake", key, [target], note="built")
        return LayerBuild(target, {"broken": ["x_32"]})


def test_layered_with_an_explicit_layer_builder(tmp_path: Path) -> None:
    said: list[str] = []
    images = Images(tmp_path)
    images.build_dir.mkdir(parents=True)
    base = images.build_dir / "initramfs.cpio"
    base.write_bytes(b"BASE")
    layer = FakeLayer(b"LAYER")
    first = images.layered(base, {"fake": layer}, log=said.append)
    assert first.initramfs == images.build_dir / "initramfs+fake.cpio"
    assert first.initramfs.read_bytes() == b"BASELAYER"
    assert first.results() == {"fake": {"broken": ["x_32"]}}
    assert said == ["assembling initramfs with fake"]
    manifest = images.manifest()["artefacts"]
    assert manifest["initramfs+fake"]["layers"] == ["fake"]
    assert manifest["layer/fake"]["note"] == "built"
    again = images.layered(base, {"fake": layer}, log=said.append)
    assert again.initramfs == first.initramfs and said == ["assembling initramfs with fake"]
    assert (layer.calls, layer.built) == (2, 1), "the builder is asked each time, builds once"
    changed = FakeLayer(b"OTHER")
    assert images.layered(base, {"fake": changed}).initramfs.read_bytes() == b"BASEOTHER"


def test_no_layers_is_the_base(tmp_path: Path) -> None:
    base = tmp_path / "initramfs.cpio"
    layered = Images(tmp_path).layered(base, {})
    assert layered.initramfs == base and layered.builds == {}


def test_layers_are_appended_in_name_order(tmp_path: Path) -> None:
    images = Images(tmp_path, log=lambda _m: None)
    images.build_dir.mkdir(parents=True)
    base = images.build_dir / "initramfs.cpio"
    base.write_bytes(b"0")

    def layer(name: str) -> LayerBuilder:
        def build(images: Images, log: Log) -> LayerBuild:
            path = images.build_dir / f"{name}.cpio"
            path.write_bytes(name.encode())
            return LayerBuild(path)

        return build

    out = images.layered(base, {"b": layer("b"), "a": layer("a")})
    assert out.initramfs.name == "initramfs+a+b.cpio" and out.initramfs.read_bytes() == b"0ab"


def test_cached_needs_the_key_and_the_files(tmp_path: Path) -> None:
    images = Images(tmp_path)
    f = images.build_dir / "x"
    with images.artefacts() as artefacts:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x")
        artefacts.record("x", "k1", [f])
        assert artefacts.cached("x", "k1") is not None
        assert artefacts.cached("x", "k2") is None
    f.unlink()
    with images.artefacts() as artefacts:
        assert artefacts.cached("x", "k1") is None
    digest = hashlib.sha256(b"x").hexdigest()
    assert images.manifest()["artefacts"]["x"]["files"] == {"images/build/x": digest}
