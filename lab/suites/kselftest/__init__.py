"""The kernel's own x86 selftests as a suite: source build, KTAP parser, expectations, check."""

from lab.suites.kselftest import check as check
