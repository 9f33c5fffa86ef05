# Day-to-day commands; each mirrors ./entrylab (which installs what is missing first).

# the main job: the default nightly matrix
nightly *ARGS:
    ./entrylab nightly {{ARGS}}

# the whole test suite (boots real QEMU guests)
test *ARGS:
    ./entrylab test {{ARGS}}

# unit tests only (no guest is booted)
unit *ARGS:
    ./entrylab test -m "not integration" {{ARGS}}

# ruff and mypy
lint:
    ./entrylab lint

# run scenarios: just run --profiles intel-sep --scenarios vdso-entry
run *ARGS:
    ./entrylab run {{ARGS}}

# boot a profile: just boot intel-sep   |   just boot intel-sep -- uname -a
boot PROFILE *ARGS:
    ./entrylab boot {{PROFILE}} {{ARGS}}

# build guest images (cached)
images:
    ./entrylab images build

# the entry model's predictions for the default profiles
explain *PROFILES:
    ./entrylab model explain {{PROFILES}}

# benchmarks of the lab itself (writes BENCHMARKS.md)
bench *ARGS:
    ./entrylab bench --write BENCHMARKS.md {{ARGS}}
