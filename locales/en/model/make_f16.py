"""Makes the shipped model.safetensors from the upstream all-MiniLM-L6-v2 weights.

Usage: python3 make_f16.py UPSTREAM/model.safetensors model.safetensors
       python3 make_f16.py --tuned TUNED/model.safetensors model.safetensors

With --tuned, the input is finetune.py's output: its SHA-256 must be the one finetune.py
recorded in TUNED/training.json.

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

import json
import os

tuned = sys.argv[1] == "--tuned"
src, dst = sys.argv[-2], sys.argv[-1]
digest = hashlib.sha256(open(src, "rb").read()).hexdigest()
expected = UPSTREAM_SHA256
if tuned:
    with open(os.path.join(os.path.dirname(src), "training.json")) as f:
        expected = json.load(f)["model_sha256"]
if digest != expected:
    sys.exit(f"{src}: SHA-256 {digest} is not the expected {expected}")
tensors = load_file(src)
half = {
    name: (t.astype(np.float16) if t.dtype.kind == "f" else t)
    for name, t in sorted(tensors.items())
}
save_file(half, dst, metadata={"source": "sentence-transformers/all-MiniLM-L6-v2" + (" fine-tuned by finetune.py" if tuned else ""), "dtype": "f16"})
print(hashlib.sha256(open(dst, "rb").read()).hexdigest(), dst)
