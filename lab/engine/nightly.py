"""What the nightly does before its run: series that follow the newest upload (7.3-rc) move
their pin themselves, and the report says from what to what; stable series stay pinned until
`lab images update`. A mirror that cannot be reached costs the refresh, not the night."""

from __future__ import annotations

from collections.abc import Callable

from lab.engine.plan import RunPlan
from lab.errors import LabError
from lab.images.builder import Images


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
