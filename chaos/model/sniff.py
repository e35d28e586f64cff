"""Is a YAML file a kube-chaos experiment? The pytest plugin asks this of every ``.yaml`` file
it is pointed at, so the answer must be cheap, bounded and never silently wrong.

A file is an experiment when a document's top-level ``apiVersion`` is ``kube-chaos/...``, in
any YAML style: block or flow, JSON, quoted keys, a space before the colon, the value on the
next line, a tag or anchor on it, after a comment header of any length, in UTF-16/32. Such a
file is collected, and loading it then yields the experiment or says what is wrong with it
(``chaos.model.parse``); it is never skipped in silence.

How, without reading a huge file whole:

1. a file within the reader's size cap (``yamlsafe.MAX_BYTES``) is read (at most that much)
   and searched for ``apiVersion: kube-chaos/`` in any of the usual spellings;
2. failing that, when it mentions ``kube-chaos`` or holds an escape (``\\``) that could spell
   it, its documents are composed by the bounded reader and their top-level ``apiVersion``
   read as YAML reads it (aliases, merge keys, escapes); a file that is not valid YAML is an
   experiment when it mentions ``kube-chaos/v``, so its error is reported;
3. a larger file is streamed in chunks (constant memory) for the same spellings or for
   ``kube-chaos/v``: loading it then reports that it is too large.

Workload manifests (which name images such as ``kube-chaos/httpd`` and have an ``apiVersion``
of their own) are not experiments.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import IO

from chaos.errors import ExperimentInvalid
from chaos.model import yamlsafe

API_PREFIX = "kube-chaos/"
CHUNK = 1024 * 1024
_OVERLAP = 4096  # characters kept between chunks, so a match across their boundary is seen
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"\xef\xbb\xbf", "utf-8"))
# the key where a key can start (a line's start, a block sequence entry, a flow mapping, a
# complex key; not prose in a comment), plain or quoted; a space or a line break before the
# colon; a comment or a line break before the value; a tag or anchor on it; the value plain or
# quoted
_API_VERSION = re.compile(
    r"""(?:^[ \t]*(?:-[ \t]+)*|[{,\[][ \t]*|\?[ \t]+)(?P<q>["']?)apiVersion(?P=q)"""
    r"""[ \t]*(?:\r?\n[ \t]*)?:"""
    r"""(?:\s|\#[^\n]*)*(?:[!&]\S*\s+)*["']?kube-chaos/""", re.M)
_MENTION = "kube-chaos"
_CLAIM = "kube-chaos/v"


def is_experiment(path: Path) -> bool:
    """Whether the plugin must collect ``path`` as an experiment (see the module's doc)."""
    try:
        with path.open("rb") as f:
            head = f.read(yamlsafe.MAX_BYTES + 1)
            encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), "utf-8")
            if len(head) <= yamlsafe.MAX_BYTES:
                return _small(head.decode(encoding, errors="replace"))
            return _streamed(head, f, encoding)
    except OSError:
        return False  # unreadable: nothing to collect (a listed file that vanished, say)


def _small(text: str) -> bool:
    text = text.lstrip("\ufeff")
    if _MENTION in text and _API_VERSION.search(text):
        return True
    if _MENTION not in text and "\\" not in text:
        return False
    try:
        documents = yamlsafe.compose_documents(text, None)
        values = [yamlsafe.to_python(d, None) for d in documents]
    except ExperimentInvalid:
        return _CLAIM in text  # not valid YAML: collect it if it claims to be one
    return any(isinstance(v, dict) and isinstance(v.get("apiVersion"), str)
               and v["apiVersion"].startswith(API_PREFIX) for v in values)


def _streamed(head: bytes, f: IO[bytes], encoding: str) -> bool:
    """A file over the size cap: in chunks, keeping only a small overlap between them."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    tail = ""
    data = head
    while data:
        window = tail + decoder.decode(data)
        if _MENTION in window and (_CLAIM in window or _API_VERSION.search(window)):
            return True
        tail = window[-_OVERLAP:]
        data = f.read(CHUNK)
    return False
