"""The span head as a torch module, its shipped weights, and its ONNX export.

The shipped weights (``rag/answering/span_head.npz``) are only what fine-tuning changed: the
first ``layers`` encoder layers and the start/end layer. The word-piece embeddings stay
all-MiniLM-L6-v2's own (frozen in training) and come from the packaged model, so the file holds
about a quarter of the model. Linear weights are stored in int8 with one scale per output row,
the same rounding the int8 ONNX file applies anyway; everything else in fp32.

Run as ``python -m rag.answering.span_export WEIGHTS MODEL_DIR TARGET PROBES``: builds the module,
exports it to ONNX, quantises it to int8 at TARGET (as the embedder is) and writes torch's logits
of ``PROBE_PAIRS`` to PROBES (``.npy``) for the parent to check the file against. Only that child
process loads torch.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rag.embedding.base import forbid_hub_downloads
from rag.embedding.models import quantise_int8

PACKAGED_WEIGHTS = Path(__file__).with_name("span_head.npz")
OPSET = 18
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBE_PAIRS = (
    ("Who founded the company?", "The company was founded in 1998 by Ada Lovelace in London."),
    ("Which option prints what would be removed?", "With --dry-run, nothing is deleted; the list is printed."),
    ("When does support end?", "Security support ends in June 2028. Bug fixes stop a year earlier."),
)
_QUANTISED = "::int8"  # suffix of an int8 weight's key; its scales are under "::scale"


def build(model_dir: Path, layers: int) -> Any:
    """MiniLM's first ``layers`` layers with a start/end layer, as a torch module."""
    import torch
    from transformers import AutoModel

    class SpanModel(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
            self.encoder.pooler = None  # [CLS] pooling: unused by the head
            self.qa = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple[Any, Any]:
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            logits = self.qa(out.last_hidden_state)
            return logits[..., 0], logits[..., 1]

    return SpanModel()


def trained_names(module: Any) -> list[str]:
    """The parameters fine-tuning changes (and the weights file holds): all but the embeddings."""
    return [name for name, _ in module.named_parameters() if not name.startswith("encoder.embeddings.")]


def pack(module: Any, quantise: bool = True) -> dict[str, npt.NDArray[Any]]:
    """The trained parameters as arrays, 2-D weights in int8 with per-row scales unless not ``quantise``."""
    state = dict(module.named_parameters())
    arrays: dict[str, npt.NDArray[Any]] = {}
    for name in trained_names(module):
        value = state[name].detach().cpu().numpy().astype(np.float32)
        if value.ndim == 2 and quantise:
            scale = np.maximum(np.abs(value).max(axis=1, keepdims=True), 1e-12) / 127.0
            arrays[name + _QUANTISED] = np.round(value / scale).astype(np.int8)
            arrays[name + "::scale"] = scale.astype(np.float32)
        else:
            arrays[name] = value
    return arrays


def unpack(arrays: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[np.float32]]:
    weights: dict[str, npt.NDArray[np.float32]] = {}
    for key, value in arrays.items():
        if key.endswith(_QUANTISED):
            name = key.removesuffix(_QUANTISED)
            weights[name] = value.astype(np.float32) * arrays[name + "::scale"]
        elif not key.endswith("::scale"):
            weights[key] = value.astype(np.float32)
    return weights


def save_weights(module: Any, path: Path, quantise: bool = True) -> None:
    """The trained parameters and the module's own layer count (a head fine-tuned from a
    pretrained one has that one's depth, whatever the recipe says)."""
    layers = np.asarray(module.encoder.config.num_hidden_layers)
    np.savez_compressed(path, layers=layers, **pack(module, quantise))  # type: ignore[arg-type]


def load(weights_file: Path, model_dir: Path) -> Any:
    """The span head with the shipped (or given) fine-tuned weights, in eval mode."""
    import torch

    with np.load(weights_file) as stored:
        arrays = {key: stored[key] for key in stored.files}
    module = build(model_dir, int(arrays.pop("layers")))
    weights = unpack(arrays)
    expected = set(trained_names(module))
    if set(weights) != expected:
        raise ValueError(f"{weights_file} does not fit the span head (missing {sorted(expected - set(weights))[:3]}, "
                         f"extra {sorted(set(weights) - expected)[:3]})")  # fmt: skip
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name in weights:
                parameter.copy_(torch.from_numpy(weights[name]))
    return module.eval()


def probe_logits(module: Any, tokenizer_file: Path) -> npt.NDArray[np.float32]:
    """Start and end logits of ``PROBE_PAIRS``, concatenated (one row of 2 x pieces per pair, padded with 0)."""
    import torch
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()  # the model folder's tokenizer.json pads to a fixed length
    rows = []
    with torch.no_grad():
        for question, context in PROBE_PAIRS:
            encoding = tokenizer.encode(question, context)
            ids = torch.tensor([encoding.ids], dtype=torch.int64)
            start, end = module(ids, torch.ones_like(ids), torch.tensor([encoding.type_ids], dtype=torch.int64))
            rows.append(np.concatenate([start[0].numpy(), end[0].numpy()]))
    width = max(len(r) for r in rows)
    return np.stack([np.pad(r, (0, width - len(r))) for r in rows]).astype(np.float32)


def export(module: Any, target: Path) -> None:
    import torch

    example = torch.tensor([[101, 2023, 2003, 102, 1037, 3231, 102]], dtype=torch.int64)
    args = (example, torch.ones_like(example), torch.tensor([[0, 0, 0, 0, 1, 1, 1]]))
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence", max=512)
    axes = {0: batch, 1: sequence}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(target), input_names=list(INPUTS), output_names=["start", "end"],
                          opset_version=OPSET, dynamo=True, external_data=False, verbose=False,
                          dynamic_shapes={name: axes for name in INPUTS})  # fmt: skip


def main(argv: list[str]) -> int:
    weights, model_dir, target, probes = (Path(a) for a in argv)
    forbid_hub_downloads()
    module = load(weights, model_dir)
    # Quantised here too: the quantiser holds the fp32 graph in memory, and a server that made
    # the file itself stayed larger ever after (962 MB ready after a first start, against 848).
    with tempfile.TemporaryDirectory(prefix="rag-span-export-") as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        export(module, fp32)
        quantise_int8(fp32, target)
    np.save(probes, probe_logits(module, model_dir / "tokenizer.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
