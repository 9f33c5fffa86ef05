"""What the nightly does before its run: series that follow the newest upload (7.3-rc) move
their pin themselves, and the report says from what to what; stable series stay pinned until
`lab images update`. A mirror that cannot be reached costs the refresh, not the night."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lab.config.nightly import Tier, load_tiers
from lab.engine.plan import RunPlan, known_kernels
from lab.errors import LabError
from lab.images.builder import Images
from lab.images.recipe import Recipe


def follow_newest(
    images: Images, plan: RunPlan, say: Callable[[str], None]
) -> dict[str, tuple[str | None, str]]:
    """Move the pins of the following series this plan runs on; key -> (old, new)."""
    recipe = images.recipe()
    following = {n for n, s in recipe.series.items() if s.follow == "newest"}
    if not following & set(plan.kernels):
        return {}
    try:
        moved = images.update_following()
    except LabError as exc:
        say(
            f"could not refresh the pins of {', '.join(sorted(following))}: {exc}; "
            "running on the pinned versions"
        )
        return {}
    for key, (old, new) in sorted(moved.items()):
        say(f"pin moved (follows the newest upload): {key}: {old or 'none'} -> {new}")
    return moved


def default_tiers(vendors: Path, recipe: Recipe) -> tuple[tuple[str, ...], tuple[Tier, ...]]:
    """The nightly's default slice from vendors.yaml `nightly:`: its kernels (checked against
    the recipe) and tiers; ((), ()) when vendors.yaml has none (every suite on each profile's
    own kernel, as before)."""
    tiers = load_tiers(vendors)
    kernels = tuple(dict.fromkeys(k for t in tiers for k in t.kernels))
    return (known_kernels(list(kernels), recipe) if kernels else ()), tiers


def tiers_to_meta(tiers: tuple[Tier, ...]) -> list[dict[str, list[str]]]:
    """Tiers as a run's report keeps them (so --resume runs the same slice)."""
    return [{"kernels": list(t.kernels), "suites": list(t.suites)} for t in tiers]


def tiers_from_meta(raw: object) -> tuple[Tier, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        Tier(tuple(map(str, t.get("kernels", ()))), tuple(map(str, t.get("suites", ()))))
        for t in raw
        if isinstance(t, dict)
    )
