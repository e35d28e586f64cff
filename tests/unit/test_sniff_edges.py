"""The sniffer's edges: a byte-order mark before the key, a claim in a file that is not valid
YAML, a file of exactly the size cap (read whole) and one over it (streamed from its first byte,
undecodable bytes replaced)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.model import yamlsafe
from chaos.model.sniff import is_experiment

BROKEN = "key: [unclosed\n"  # not valid YAML: only the text search can answer


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "x.yaml"
    path.write_bytes(data)
    return path


def _padded(head: bytes, size: int) -> bytes:
    """``head``, then one comment line filling the file to exactly ``size`` bytes."""
    return head + b"#" + b"a" * (size - len(head) - 2) + b"\n"


@pytest.mark.parametrize(("data", "collected"), [
    (b"\xef\xbb\xbfapiVersion: kube-chaos/x\n" + BROKEN.encode(), True),
    (b"apiVersion: kube-chaos/x\n" + BROKEN.encode(), True),
    (b"XXapiVersion: kube-chaos/x\n" + BROKEN.encode(), False),
], ids=["after-a-bom", "plain", "not-a-key"])
def test_the_key_is_found_by_text_when_the_file_is_not_yaml(tmp_path: Path, data: bytes,
                                                            collected: bool) -> None:
    assert is_experiment(_file(tmp_path, data)) is collected


def test_a_file_of_exactly_the_size_cap_is_read_as_yaml(tmp_path: Path) -> None:
    # only composing the document reads the escaped spelling; the streamed search cannot
    data = _padded(b'apiVersion: "kube\\x2dchaos/v1"\n', yamlsafe.MAX_BYTES)
    assert len(data) == yamlsafe.MAX_BYTES
    assert is_experiment(_file(tmp_path, data)) is True


@pytest.mark.parametrize("head", [
    b"apiVersion: kube-chaos/x\n",
    b"apiVersion: kube-chaos/x\n# \xff\xfe undecodable\n",
    b"# names kube-chaos/v1 in a comment\n",
], ids=["key-on-the-first-line", "undecodable-bytes", "claim-only"])
def test_a_file_over_the_cap_is_searched_from_its_first_byte(tmp_path: Path,
                                                             head: bytes) -> None:
    assert is_experiment(_file(tmp_path, _padded(head, yamlsafe.MAX_BYTES + 100))) is True
