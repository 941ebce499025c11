"""Cross-check (not a project test): Python transformers loads folders Attune saved, WITHOUT passing a
dtype, and computes the logits Attune computed for the same token ids (`./attune logits` JSONL).

Usage: python check_saved_folders.py FOLDER ATTUNE_LOGITS.jsonl [FOLDER ATTUNE_LOGITS.jsonl ...]

For each folder it prints one JSON line: the dtype config.json states, the dtype of the safetensors
tensors, the dtype transformers loaded the model in (no dtype argument), the largest difference between
those logits and Attune's, and the largest difference after upcasting the loaded model to float32
(Attune computes in float32 from the stored values).
"""
import json
import struct
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification


def safetensors_dtypes(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return sorted({v["dtype"] for k, v in header.items() if k != "__metadata__"})


def max_diff(model, rows):
    worst = 0.0
    with torch.no_grad():
        for r in rows:
            ids = torch.tensor([r["input_ids"]])
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0].float()
            ref = torch.tensor(r["logits"], dtype=torch.float32)
            worst = max(worst, (out.reshape(ref.shape) - ref).abs().max().item())
    return worst


args = sys.argv[1:]
for folder, logits in zip(args[0::2], args[1::2]):
    config = AutoConfig.from_pretrained(folder)
    arch = config.architectures[0]
    cls = AutoModelForCausalLM if arch.endswith("LMHeadModel") or arch.endswith("ForCausalLM") else AutoModelForSequenceClassification
    rows = [json.loads(line) for line in open(logits) if line.strip()]
    model = cls.from_pretrained(folder).eval()  # no dtype: transformers 5 follows config.json's dtype
    loaded = str(model.dtype).replace("torch.", "")
    as_loaded = max_diff(model, rows)
    upcast = max_diff(model.float(), rows)
    print(json.dumps({"folder": folder, "architecture": arch,
                      "config_dtype": json.load(open(folder + "/config.json")).get("dtype"),
                      "safetensors_dtypes": safetensors_dtypes(folder + "/model.safetensors"),
                      "loaded_dtype": loaded, "max_abs_diff_as_loaded": as_loaded,
                      "max_abs_diff_upcast_fp32": upcast, "texts": len(rows)}))
