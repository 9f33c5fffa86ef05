"""The suite's names: its initramfs layer and where that layer puts the selftests in the guest."""

LAYER = "kselftest-x86"
GUEST_DIR = "/kselftest/x86"
