"""A real cross-encoder reranker for loopback tests, made from the bundled LLM.

No package ships a reranker's weights (bge-reranker, ms-marco cross-encoders, Qwen3-Reranker,
jina: searched; the few "bundled" rerankers are LightGBM or lexical). So, as Qwen3-Reranker
does with Qwen3, the bundled Qwen2.5-Coder-0.5B-Instruct (`llm_assets` beside this module) is turned
into a yes/no judge: the prompt `RERANK_TEMPLATE` asks whether the document answers the
query, and the score is the log-odds of "yes" over "no" for the next token,
`(W_yes - W_no) . final_norm(h_last)`, as llama.cpp computes for Qwen3-Reranker GGUFs.

llama.cpp builds that head (`cls.output`) only for the qwen3 architecture, and Qwen2 cannot
pose as Qwen3 (Qwen3 normalises q and k per head). Without a head, `llama-server --reranking`
returns the first component of the last token's final hidden state. So the conversion
rotates the residual stream (as SliceGPT/QuaRot do; the function computed is unchanged):
every RMSNorm weight is folded into the matrices that read its output, and a Householder
reflection H maps the direction u = g_out * (W_yes - W_no) to the first axis (embeddings and
matrices reading the residual: X -> X H; matrices writing it: W -> H W; the final norm's
weight becomes |u|). The first component of the final hidden state is then exactly the
yes/no logit difference. The LM head is rotated too, so the model still chats as before.

`prepare_reranker_model(cache_dir)` does it once with gguf-py from the same llama-cpp-python
sdist that `llama-server` is built from (numpy only), writes Q8_0, checks the sha256 and
caches the file beside the LLM's model. The arithmetic is float64 with fixed summation order
(no BLAS), so the result is byte-identical across machines.

CLI: `python -m services.runtime.local_models.reranker_assets convert SRC DEST` (run by
`prepare_reranker_model` in a process of its own); `prepare`, `serve` and `bench` are the
server's (`python -m services.runtime.local_models.reranker_server ...`), which imports
this module (not the other way round).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from pipelines.errors import ModelUnavailable
from services.runtime.local_models.llm_assets import (
    LLAMA_CPP_PYTHON_VERSION,
    MODEL_SHA256,
    _locked,
    assemble_model,
)

RERANKER_NAME = "Qwen2.5-Coder-0.5B-Instruct-yes-no-reranker-Q8_0"
RERANKER_SHA256 = "fe5d10b10dec1aca54a87e1668fea2c970443d2d109ac393d1eba3a08925af3c"
CONVERSION = 1  # bump when the conversion changes (a new file name, a new checksum)
_SHOTS = (  # (question, passage, answer): two examples make the small model's yes/no usable
    ("What is the term of the lease?", "The lease term is five years from the Commencement Date.",
     "yes"),
    ("Who pays the shipping costs?", "This Agreement may be signed in counterparts.", "no"),
)  # fmt: skip
_TURN = (
    "<|im_start|>user\nQuestion: {query}\nPassage: {document}\nDoes the passage answer the "
    "question?<|im_end|>\n<|im_start|>assistant\n"
)
RERANK_TEMPLATE = (
    "<|im_start|>system\nYou judge whether a passage answers a question. Answer only yes or "
    "no.<|im_end|>\n"
    + "".join(
        _TURN.replace("{query}", q).replace("{document}", d) + f"{a}<|im_end|>\n"
        for q, d, a in _SHOTS
    )
    + _TURN
)
"""llama-server's rerank prompt (`tokenizer.chat_template.rerank`): `{query}` and `{document}`
are replaced; the score is read at the token after it. The query comes before the passage, so
the prefix up to the query is the same for every passage of a question."""
_GGUF_PY = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/gguf-py/gguf/"
_REPO = Path(__file__).resolve().parents[1]


def reranker_model_path(cache_dir: Path) -> Path:
    return cache_dir.resolve() / "models" / f"{RERANKER_NAME}-v{CONVERSION}.gguf"


def prepare_reranker_model(cache_dir: Path) -> Path:
    """Convert (once) the bundled LLM into the yes/no reranker; return its .gguf path."""
    target = reranker_model_path(cache_dir)
    if target.is_file():
        return target
    with _locked(target.with_suffix(".lock")):
        if target.is_file():
            return target
        source = assemble_model(cache_dir)  # checks the source's sha256
        gguf_py = _gguf_py(cache_dir)
        staged = target.with_suffix(f".{os.getpid()}.tmp")
        log = target.with_suffix(".log")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(gguf_py), str(_REPO)])}
        with log.open("wb") as out:  # a child process: its ~3 GB of arrays go when it ends
            done = subprocess.run(
                [sys.executable, "-m", "services.runtime.local_models.reranker_assets", "convert",
                 str(source), str(staged)],
                env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            staged.unlink(missing_ok=True)
            tail = log.read_text(errors="replace")[-3000:]
            raise ModelUnavailable(f"converting the reranker failed; log {log}:\n{tail}")
        digest = _sha256(staged)
        if digest != RERANKER_SHA256:
            staged.unlink()
            raise ModelUnavailable(
                f"the converted reranker has sha256 {digest}, expected {RERANKER_SHA256} "
                f"(source model {MODEL_SHA256[:12]}, numpy {_numpy_version()})"
            )
        os.replace(staged, target)
    return target


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _numpy_version() -> str:
    try:
        return importlib.metadata.version("numpy")
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _gguf_py(cache_dir: Path) -> Path:
    """gguf-py of the llama.cpp that llama-server is built from (the llama-cpp-python sdist
    from PyPI), extracted once; returns the folder to put on PYTHONPATH."""
    root = cache_dir.resolve() / "gguf-py" / f"llama-cpp-python-{LLAMA_CPP_PYTHON_VERSION}"
    if (root / "gguf" / "__init__.py").is_file():
        return root
    with _locked(root.with_suffix(".lock")):
        if (root / "gguf" / "__init__.py").is_file():
            return root
        with tempfile.TemporaryDirectory(prefix="gguf-py-", dir=root.parent) as tmp_name:
            tmp = Path(tmp_name)
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                 ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(tmp)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            sdists = list(tmp.glob("llama_cpp_python-*.tar.gz"))
            if done.returncode != 0 or not sdists:
                raise ModelUnavailable(
                    f"cannot download the llama-cpp-python sdist for gguf-py: {done.stderr[-500:]}"
                )
            staged = tmp / "staged"
            with tarfile.open(sdists[0]) as archive:
                members = [m for m in archive.getmembers() if m.name.startswith(_GGUF_PY)]
                archive.extractall(staged, members=members, filter="data")
            package = staged / _GGUF_PY
            root.mkdir(parents=True, exist_ok=True)
            os.replace(package, root / "gguf")
    return root


# --- the conversion (runs in a child process with gguf-py on its path) ---------------------


def _convert(source: Path, target: Path) -> None:
    import gguf  # the sdist's gguf-py (PYTHONPATH set by prepare_reranker_model)
    import numpy as np

    reader = gguf.GGUFReader(source)
    arch = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    if arch != "qwen2":
        raise SystemExit(f"expected a qwen2 model, got {arch}")
    tensors = {t.name: t for t in reader.tensors}
    n_layer = int(reader.fields[f"{arch}.block_count"].contents())

    def weights(name: str) -> Any:
        tensor = tensors[name]
        return gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float64)

    tokens = reader.fields[gguf.Keys.Tokenizer.LIST].contents()
    yes, no = tokens.index("yes"), tokens.index("no")
    head_name = "output.weight" if "output.weight" in tensors else "token_embd.weight"
    head_rows = weights(head_name)[[yes, no]]
    g_out = weights("output_norm.weight")
    u = g_out * (head_rows[0] - head_rows[1])
    scale = float(np.sqrt(np.sum(u * u)))
    v = u / scale
    v[0] -= 1.0  # Householder vector: H = I - 2 v v^T / (v . v) maps u/|u| to e_0
    vv = float(np.sum(v * v))

    def reads(matrix: Any, norm: Any | None = None) -> Any:
        """A matrix applied to the (normalised) residual: (W diag(norm)) H."""
        a = matrix * norm if norm is not None else matrix
        return a - np.outer(np.sum(a * v, axis=1), v * (2.0 / vv))

    def writes(matrix: Any) -> Any:
        """A matrix whose output is added to the residual: H W."""
        return matrix - np.outer(v * (2.0 / vv), np.sum(matrix * v[:, None], axis=0))

    def new_tensor(name: str) -> Any:
        parts = name.split(".")
        kind = parts[-2] if name.startswith("blk.") else parts[0]
        norm = None
        if name.startswith("blk."):
            prefix = f"blk.{parts[1]}."
            if kind in ("attn_q", "attn_k", "attn_v"):
                norm = weights(prefix + "attn_norm.weight")
            elif kind in ("ffn_gate", "ffn_up"):
                norm = weights(prefix + "ffn_norm.weight")
        if parts[-1] == "bias":
            return tensors[name].data.astype(np.float32)  # q/k/v biases: outside the residual
        if kind in ("attn_norm", "ffn_norm"):
            return np.ones(tensors[name].data.shape, dtype=np.float32)
        if kind == "output_norm":
            return np.full(tensors[name].data.shape, scale, dtype=np.float32)
        if kind in ("attn_output", "ffn_down"):
            return writes(weights(name))
        if kind == "token_embd":
            return reads(weights(name))
        if kind == "output":
            return reads(weights(name), g_out) / scale
        if norm is not None:
            return reads(weights(name), norm)
        raise SystemExit(f"unexpected tensor {name}")

    writer = gguf.GGUFWriter(target, arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in (
            gguf.Keys.General.ARCHITECTURE,
            gguf.Keys.General.FILE_TYPE,
            gguf.Keys.General.NAME,
        ):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_name(f"{RERANKER_NAME} (docsight conversion {CONVERSION})")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_pooling_type(gguf.PoolingType.RANK)
    writer.add_chat_template([{"name": "rerank", "template": RERANK_TEMPLATE}])

    order = [t.name for t in reader.tensors]
    q8 = gguf.GGMLQuantizationType.Q8_0
    for name in order:
        shape = tuple(int(n) for n in reversed(tensors[name].shape))  # numpy order
        if len(shape) == 1:
            writer.add_tensor_info(name, shape, np.dtype(np.float32), shape[0] * 4)
        else:
            byte_shape = gguf.quant_shape_to_byte_shape(shape, q8)
            writer.add_tensor_info(name, byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape)),
                                   raw_dtype=q8)  # fmt: skip
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for done, name in enumerate(order, start=1):
        data = new_tensor(name)
        if data.ndim == 2:
            data = gguf.quants.quantize(data.astype(np.float32), q8)
        writer.write_tensor_data(data)
        if done % 50 == 0:
            print(f"converted {done}/{len(order)} tensors", flush=True)
    writer.close()
    print(f"yes={yes} no={no} |u|={scale:.4f} layers={n_layer}: {target}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "convert":
        _convert(Path(args[1]), Path(args[2]))
        return 0
    print(
        "usage: python -m services.runtime.local_models.reranker_assets convert SRC DEST\n"
        "prepare, serve, bench: python -m services.runtime.local_models.reranker_server",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
