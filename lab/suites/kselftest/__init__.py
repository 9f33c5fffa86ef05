"""The kernel's own x86 selftests as a suite (scenarios/kselftest-x86.yaml).

source.py: where the selftests come from (Debian's linux-source, or a user's kernel tree);
build.py: building them into the kselftest-x86 initramfs layer; ktap.py: their output as
subtests; expectations.py: known artefacts and judging a run; check.py: the `kselftest` check.

LAYERS is what this suite offers the image builder (lab.images.builder.Images.layered): the
layer builders by the name scenarios give in `needs:`. A run with `--selftests-src PATH` uses
`KselftestLayer(PATH)` instead of the default one.
"""

from lab.checks import Check
from lab.images.builder import LayerBuilder
from lab.suites.kselftest.build import KselftestLayer
from lab.suites.kselftest.check import check_kselftest
from lab.suites.kselftest.names import LAYER

CHECKS: dict[str, Check] = {"kselftest": check_kselftest}
LAYERS: dict[str, LayerBuilder] = {LAYER: KselftestLayer()}

__all__ = ["CHECKS", "LAYERS", "KselftestLayer"]
