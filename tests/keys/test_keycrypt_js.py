"""static/js/keycrypt.js really produces what the server decrypts: run it under Node's
WebCrypto (the same SubtleCrypto API as browsers) against the page's public key."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from keys.transport import transport_decrypt, transport_public_jwk

NODE = shutil.which("node")
SCRIPT = Path(settings.BASE_DIR) / "static" / "js" / "keycrypt.js"
KEY = "sk-proj-browserSIDE0123456789abcdef" + "x" * 180  # longer than RSA-OAEP's 190-byte limit


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_keycrypt_js_output_is_decrypted_by_the_server(db, master_keys):
    jwk = transport_public_jwk()
    program = (
        f"const kc = require({json.dumps(str(SCRIPT))});"
        f"kc.encryptKey({json.dumps(KEY)}, {json.dumps(jwk)})"
        ".then(s => process.stdout.write(s), e => { console.error(e); process.exit(1); });"
    )
    result = subprocess.run(
        [NODE, "-e", program], capture_output=True, text=True, timeout=20, check=True
    )
    sealed = result.stdout
    assert sealed.startswith("cbenc1." + jwk["kid"] + ".")
    assert KEY not in sealed
    assert transport_decrypt(sealed) == KEY
