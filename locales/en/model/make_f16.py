"""Makes the shipped model.safetensors from the upstream all-MiniLM-L6-v2 weights.

Usage: python3 make_f16.py UPSTREAM/model.safetensors model.safetensors

The upstream file (f32, 90,868,376 bytes) must have SHA-256
53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db. Every floating-point tensor
is rounded to IEEE half precision (numpy's round-to-nearest-even); names and shapes are kept.
The result is deterministic: the same input always gives the same bytes (README.md here
records its SHA-256).
"""
import hashlib
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

UPSTREAM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

src, dst = sys.argv[1], sys.argv[2]
digest = hashlib.sha256(open(src, "rb").read()).hexdigest()
if digest != UPSTREAM_SHA256:
    sys.exit(f"{src}: SHA-256 {digest} is not the upstream file's")
tensors = load_file(src)
half = {
    name: (t.astype(np.float16) if t.dtype.kind == "f" else t)
    for name, t in sorted(tensors.items())
}
save_file(half, dst, metadata={"source": "sentence-transformers/all-MiniLM-L6-v2", "dtype": "f16"})
print(hashlib.sha256(open(dst, "rb").read()).hexdigest(), dst)
