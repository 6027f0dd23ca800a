"""Which field of an audit-log change holds a secret: one judgement for the pull (which masks the
log before writing it) and the reader (which masks what it keeps). A change whose field cannot be
read is taken to hold one."""

from __future__ import annotations

import functools
import re

# a segment of a field path that names a credential (`http.auth.token.token`, `ftp.password`,
# `settings.licenseKey`, `http.headers[0].value`: a header's value is an API key as often as not)
SECRET_FIELD = re.compile(r"(?i)(pass(word|phrase)?|passwd|pwd|^pw$|secret|token|private|credential|cookie|"
                          r"api[_-]?key|key$|signature|authorization|bearer|session|otp|^pin$|^auth$|^encrypted$|"
                          r"^headers?$)")
# segments that look like one but name an identity, not a secret (NetSuite's tokenId is half of a
# token-based login: it is a secret)
NOT_SECRET = frozenset({"accessKeyId", "keyId"})


@functools.lru_cache(maxsize=4096)  # a log names the same few fields again and again
def _secret_path(path: str) -> bool:
    return any(seg not in NOT_SECRET and SECRET_FIELD.search(seg) for seg in re.split(r"[.\[\]/]+", path) if seg)


def secret_field(path) -> bool:
    """Whether the values of the field at `path` must never be shown: the whole path names a
    credential in any segment, or it is no readable path at all (missing, not text, empty)."""
    if not isinstance(path, str) or not path.strip():
        return True
    return _secret_path(path)
