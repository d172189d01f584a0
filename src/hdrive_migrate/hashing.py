"""Content hashes read in one pass: SHA-256 for duplicates and evidence manifests, QuickXorHash
because it is the one hash OneDrive for Business guarantees to return."""

import base64
import hashlib
from typing import BinaryIO

import quickxorhash

READ_SIZE = 1 << 20


def quick_xor_text(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def hash_stream(stream: BinaryIO) -> tuple[str, str]:
    """(SHA-256 hex, QuickXorHash base64) of everything `stream` yields."""
    sha256 = hashlib.sha256()
    quick_xor = quickxorhash.quickxorhash()
    while piece := stream.read(READ_SIZE):
        sha256.update(piece)
        quick_xor.update(piece)
    return sha256.hexdigest(), quick_xor_text(quick_xor.digest())
