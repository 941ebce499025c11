#!/usr/bin/env python3
"""Writes roberta-multiple-choice-reference.json, which FamilyFidelitySuite (core's test-jar) holds every
engine's RobertaForMultipleChoice to: there is no RobertaForMultipleChoice fixture in ../shared, so this
script builds one from the shared fixture ``fixtures/hf/roberta-seqcls`` and writes transformers' logits.

The model: ``RobertaForMultipleChoice`` with roberta-seqcls's config, its encoder weights (``roberta.*``
from model.safetensors; the sequence-classification head is left out) and a head whose values follow a
formula, so the Java test can write the same tensors without a checkpoint file being committed:

* ``roberta.pooler.dense.weight[i][j] = 0.5 * sin(0.7 * i + 0.3 * j + 0.1)``
* ``roberta.pooler.dense.bias[i] = 0.01 * cos(i)``
* ``classifier.weight[0][j] = 4.0 * sin(1.3 * j + 0.2)``, ``classifier.bias[0] = 0.05``

(computed in float64, stored as float32). Each case is a context and three endings, tokenised as pairs
by the fixture's tokenizer, padded to the longest pair of the case; the logits are the model's in eval
mode on the [1, 3, T] batch. Run with transformers 5.x and torch:

    /work/venv/bin/python core/src/test/python/make_roberta_multiple_choice_reference.py ../shared
"""
import json
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForMultipleChoice

CASES = [
    ("She opened the fridge and", ["took out the milk.", "flew to the moon.", "sang a song about cheese."]),
    ("The cat sat on the mat near the door", ["and fell asleep.", "and wrote a novel.", "and ate the door."]),
]


def head_values(hidden):
    pooler_w = [[0.5 * math.sin(0.7 * i + 0.3 * j + 0.1) for j in range(hidden)] for i in range(hidden)]
    pooler_b = [0.01 * math.cos(i) for i in range(hidden)]
    cls_w = [[4.0 * math.sin(1.3 * j + 0.2) for j in range(hidden)]]
    return {
        "roberta.pooler.dense.weight": torch.tensor(pooler_w, dtype=torch.float64).float(),
        "roberta.pooler.dense.bias": torch.tensor(pooler_b, dtype=torch.float64).float(),
        "classifier.weight": torch.tensor(cls_w, dtype=torch.float64).float(),
        "classifier.bias": torch.tensor([0.05], dtype=torch.float64).float(),
    }


def main():
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared")
    fixture = shared / "fixtures/hf/roberta-seqcls"
    config = RobertaConfig.from_pretrained(fixture)
    config.architectures = ["RobertaForMultipleChoice"]
    model = RobertaForMultipleChoice(config)
    state = {k: v for k, v in load_file(str(fixture / "model.safetensors")).items() if k.startswith("roberta.")}
    state.update(head_values(config.hidden_size))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(fixture / "tokenizer.json"))
    tokenizer.pad_token = "<pad>"
    cases = []
    for text, endings in CASES:
        enc = tokenizer([text] * len(endings), endings, padding=True, return_tensors="pt")
        with torch.no_grad():
            logits = model(input_ids=enc["input_ids"][None], attention_mask=enc["attention_mask"][None]).logits[0]
        cases.append({
            "text": text,
            "endings": endings,
            "input_ids": enc["input_ids"].tolist(),
            "attention_mask": enc["attention_mask"].tolist(),
            "logits": logits.tolist(),
        })
    out = {
        "fixture": "fixtures/hf/roberta-seqcls",
        "architecture": "RobertaForMultipleChoice",
        "head": {
            "roberta.pooler.dense.weight": "0.5 * sin(0.7 * i + 0.3 * j + 0.1)",
            "roberta.pooler.dense.bias": "0.01 * cos(i)",
            "classifier.weight": "4.0 * sin(1.3 * j + 0.2)",
            "classifier.bias": "0.05",
        },
        "transformers": __import__("transformers").__version__,
        "torch": torch.__version__,
        "cases": cases,
    }
    target = Path(__file__).resolve().parents[1] / "resources/dev/attune/testing/roberta-multiple-choice-reference.json"
    target.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", target)


if __name__ == "__main__":
    main()
