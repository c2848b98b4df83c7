"""Reference sentence vectors for the shipped model, computed independently of the Rust code.

A plain numpy forward pass of BERT (all-MiniLM-L6-v2, as fine-tuned by
locales/en/model/finetune.py) over the f32 weights the shipped f16 file was made from, with the
Hugging Face `tokenizers` package, then sentence-transformers' pooling (mean over the attention
mask) and L2 normalisation. tests/it/semantic.rs checks that the binary's embedder, running the
shipped f16 weights with candle, gives the same vectors.

Usage: pip install numpy safetensors tokenizers
       python3 minilm_reference.py [--tuned] WEIGHTS/model.safetensors \
           ../../locales/en/model/tokenizer.json > minilm_vectors.json
With --tuned, WEIGHTS is finetune.py's output folder, whose training.json records the SHA-256;
without it, the upstream file is expected.
"""
import hashlib
import json
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

UPSTREAM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
SENTENCES = [
    "hello world",
    "can my mum visit me on the ward",
    "im on a 5(2) can they make me take meds",
    "I have been saving my tablets for a while now",
    "My daughter was admitted last week and nobody tells me anything about her care plan.",
    "wat r my rights",
]

import os

tuned = sys.argv[1] == "--tuned"
weights_path, tokenizer_path = sys.argv[-2], sys.argv[-1]
digest = hashlib.sha256(open(weights_path, "rb").read()).hexdigest()
expected = UPSTREAM_SHA256
if tuned:
    with open(os.path.join(os.path.dirname(weights_path), "training.json")) as f:
        expected = json.load(f)["model_sha256"]
if digest != expected:
    sys.exit(f"{weights_path}: SHA-256 {digest} is not the expected {expected}")
w = {k: v.astype(np.float64) for k, v in load_file(weights_path).items()}
tok = Tokenizer.from_file(tokenizer_path)
# The shipped tokenizer.json pads every text to 128 tokens; sentence-transformers pads a batch to
# its longest text and truncates at max_seq_length (256), which is what pooling assumes.
tok.no_padding()
tok.enable_truncation(256)


def layer_norm(x, prefix):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w[prefix + ".weight"] + w[prefix + ".bias"]


def linear(x, prefix):
    return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]


def gelu(x):
    from math import erf, sqrt

    return x * 0.5 * (1.0 + np.vectorize(erf)(x / sqrt(2.0)))


def embed(text):
    ids = np.array(tok.encode(text).ids)
    n = len(ids)
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:n]
    x = x + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, "embeddings.LayerNorm")
    heads, size = 12, 32
    for i in range(6):
        p = f"encoder.layer.{i}."
        q = linear(x, p + "attention.self.query").reshape(n, heads, size).transpose(1, 0, 2)
        k = linear(x, p + "attention.self.key").reshape(n, heads, size).transpose(1, 0, 2)
        v = linear(x, p + "attention.self.value").reshape(n, heads, size).transpose(1, 0, 2)
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, heads * size)
        x = layer_norm(linear(context, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = gelu(linear(x, p + "intermediate.dense"))
        x = layer_norm(linear(h, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


print(json.dumps(
    {"model_sha256": digest,
     "vectors": [{"text": s, "vector": [round(float(v), 6) for v in embed(s)]} for s in SENTENCES]},
    indent=1))
