"""GuestSession protocol handling against a scripted link (the real agent is tested by the
integration tests, which boot real guests)."""

from __future__ import annotations

import pytest

from lab.errors import GuestError
from lab.targets.session import GuestSession


class ScriptedLink:
    """Answers each request with lines produced by a function of the request."""

    def __init__(self, answer: dict[str, list[str]]) -> None:
        self.answer = answer
        self.sent: list[str] = []
        self.queue: list[str] = []

    def send(self, line: str) -> None:
        self.sent.append(line)
        verb = line.split(" ")[0]
        self.queue.extend(self.answer.get(verb, []))

    def read_line(self, deadline: float) -> str | None:
        return self.queue.pop(0) if self.queue else None


def test_run_encodes_arguments_and_collects_output() -> None:
    link = ScriptedLink({"RUN": ["1|hello", "2|not mine", "1|world", "1=EXIT 3"]})
    result = GuestSession(link, "p").run(["echo", "a b;rm -rf /"], timeout=1)
    assert link.sent == [f"RUN 1 {b'echo'.hex()} {b'a b;rm -rf /'.hex()}"]
    assert result.output == ["hello", "world"]
    assert result.exit_code == 3 and not result.ok
    assert result.describe() == "exit 3"


def test_timeout_kills_the_command() -> None:
    link = ScriptedLink({"KILL": ["1=SIGNAL 9"]})
    result = GuestSession(link, "p").run(["sleep", "100"], timeout=0.01)
    assert result.timed_out and result.signal == 9
    assert link.sent[-1] == "KILL 1"


def test_a_guest_that_does_not_answer_kill_is_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.targets.session.KILL_GRACE_S", 0.01)
    with pytest.raises(GuestError) as exc:
        GuestSession(ScriptedLink({}), "p").run(["sleep", "100"], timeout=0.01)
    assert exc.value.kind == "hang"


def test_malformed_end_lines_are_agent_errors() -> None:
    link = ScriptedLink({"RUN": ["1=EXIT banana"]})
    result = GuestSession(link, "p").run(["x"], timeout=1)
    assert result.agent_error == "EXIT banana"


def test_vdso_dump_decodes_hex() -> None:
    link = ScriptedLink({"VDSO": ["1|7f454c46", "1|0102", "1=EXIT 0"]})
    assert GuestSession(link, "p").vdso() == b"\x7fELF\x01\x02"
    bad = ScriptedLink({"VDSO": ["1|zz", "1=EXIT 0"]})
    with pytest.raises(GuestError):
        GuestSession(bad, "p").vdso()
