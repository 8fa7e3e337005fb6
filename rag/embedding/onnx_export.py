"""The fp32 ONNX export itself, run as ``python -m rag.embedding.onnx_export MODEL_DIR TARGET PROBES``.

``rag.embedding.onnx`` starts this in a child process so that only the child ever loads torch
(see ``rag.embedding.onnx._export``). It writes the model to TARGET and torch's own vectors
of the probe sentences to PROBES (a ``.npy`` file, in ``PROBES`` order), which the parent
compares with ONNX Runtime's before it keeps the file.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rag.embedding.base import Vectors, forbid_hub_downloads
from rag.embedding.models import OPSET, PROBES
from rag.embedding.onnx import INPUTS, MAX_LENGTH, mean_pool_normalise


def export(model_dir: Path, target: Path) -> dict[str, Vectors]:
    """Write the encoder (last hidden state) to ``target``; return torch's vectors of the probes."""
    import torch
    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            hidden: torch.Tensor = out.last_hidden_state
            return hidden

    wrapper = LastHiddenState(encoder).eval()
    example = torch.tensor([[101, 2023, 2003, 1037, 3231, 102], [101, 2023, 2003, 102, 0, 0]], dtype=torch.int64)
    args = (example, (example != 0).long(), torch.zeros_like(example))
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", max=512)
    axes = {0: batch, 1: sequence}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and dynamic-axis chatter
        torch.onnx.export(
            wrapper,
            args,
            str(target),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            dynamic_shapes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes},
            verbose=False,
        )
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    reference: dict[str, Vectors] = {}
    with torch.no_grad():
        for probe in PROBES:
            ids = torch.tensor([tokenizer.encode(probe).ids], dtype=torch.int64)
            mask = torch.ones_like(ids)
            hidden = wrapper(ids, mask, torch.zeros_like(ids)).numpy()
            reference[probe] = mean_pool_normalise(hidden, mask.numpy())[0]
    return reference


def main(argv: list[str]) -> int:
    model_dir, target, probes = (Path(a) for a in argv)
    forbid_hub_downloads()
    reference = export(model_dir, target)
    np.save(probes, np.stack([reference[p] for p in PROBES]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
