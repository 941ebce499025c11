"""Checks that an adapter folder Attune wrote loads in Python's PEFT with no missing keys and gives
Attune's logits (not a test dependency: run by hand in a venv with torch, transformers and peft).

usage: python check_peft_loads_attune_adapter.py BASE ADAPTER ATTUNE_LOGITS.jsonl [TOLERANCE]

ATTUNE_LOGITS.jsonl is what `./attune logits --model BASE --adapter ADAPTER --input X` printed: one
line per text with its input_ids and logits. Prints the largest difference; exits 1 above TOLERANCE
(default 1e-5) or when PEFT reports missing or unexpected adapter keys.
"""
import json
import sys

import torch
from peft import PeftModel
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification


def main():
    base_path, adapter, logits_file = sys.argv[1:4]
    tolerance = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-5
    base = AutoModelForSequenceClassification.from_pretrained(base_path)
    model = PeftModel.from_pretrained(base, adapter)
    model.eval()
    # every adapter tensor PEFT's model has must come from the file, and the file may hold nothing else
    wanted = set(get_peft_model_state_dict(model).keys())
    saved = set(load_file(f"{adapter}/adapter_model.safetensors").keys())
    missing = sorted(wanted - saved)
    unexpected = sorted(saved - wanted)
    print(f"adapter keys: {len(saved)} in the file, {len(wanted)} in PEFT's model; missing {missing};"
          f" unexpected {unexpected}")
    worst = 0.0
    rows = [json.loads(line) for line in open(logits_file) if line.strip()]
    with torch.no_grad():
        for row in rows:
            ids = torch.tensor([row["input_ids"]])
            extra = {}
            if getattr(base.config, "type_vocab_size", None):  # BERT-like; GPT-2 would embed them as tokens
                extra["token_type_ids"] = torch.zeros_like(ids)
            got = model(input_ids=ids, attention_mask=torch.ones_like(ids), **extra).logits[0]
            diff = (got - torch.tensor(row["logits"])).abs().max().item()
            worst = max(worst, diff)
    print(f"{len(rows)} texts: max |PEFT - Attune| logit difference {worst:.3g} (tolerance {tolerance})")
    sys.exit(0 if not missing and not unexpected and worst <= tolerance else 1)


if __name__ == "__main__":
    main()
