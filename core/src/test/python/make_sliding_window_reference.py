#!/usr/bin/env python3
"""Writes the reference that FamilyFidelitySuite holds Mistral's sliding-window attention to:
``fixtures/hf/mistral-lm`` (MistralForCausalLM, tiny random weights) opened with ``sliding_window=4``, so
every text of the fixture is longer than the window and each token attends to itself and the 3 before it
(transformers' ``sliding_window_overlay``: key index > query index - window, by position in the padded
row). Written: each text's logits alone, a right-padded and a left-padded batch of the texts, and greedy
ids of the fixture's prompt (``generate``, key/value cache; checked equal to decoding without it).

Run from the repository root with a venv that has torch and transformers 5::

    /work/venv/bin/python core/src/test/python/make_sliding_window_reference.py \
        --fixture ../shared/fixtures/hf/mistral-lm \
        --out core/src/test/resources/dev/attune/testing/mistral-sliding-window-reference.json
"""

import argparse
import json

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

WINDOW = 4
MAX_NEW_TOKENS = 12


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fixture", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with open(f"{a.fixture}/reference.json") as f:
        fixture = json.load(f)
    tokenizer = AutoTokenizer.from_pretrained(a.fixture)
    model = AutoModelForCausalLM.from_pretrained(a.fixture, dtype=torch.float32, sliding_window=WINDOW,
                                                 attn_implementation="eager")
    assert model.config.sliding_window == WINDOW
    model.eval()
    texts = fixture["texts"]
    cases = []
    with torch.no_grad():
        for t in texts:
            ids = tokenizer(t, return_tensors="pt")["input_ids"]
            assert ids.shape[1] > WINDOW, "every text must be longer than the window"
            cases.append({"text": t, "input_ids": ids[0].tolist(), "logits": model(input_ids=ids).logits[0].tolist()})
        batches = {}
        for side in ("right", "left"):
            tokenizer.padding_side = side
            enc = tokenizer(texts, return_tensors="pt", padding=True)
            logits = model(**enc).logits
            if side == "left":  # rows of padding attend to nothing: not compared
                logits = logits * enc["attention_mask"].unsqueeze(-1)
            batches[side] = {"padding_side": side, "input_ids": enc["input_ids"].tolist(),
                             "attention_mask": enc["attention_mask"].tolist(), "logits": logits.tolist()}
        prompt = fixture["generate"]["prompt"]
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        common = dict(max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=None, pad_token_id=tokenizer.pad_token_id)
        cached = model.generate(ids, use_cache=True, **common)[0].tolist()
        uncached = model.generate(ids, use_cache=False, **common)[0].tolist()
        assert cached == uncached, (cached, uncached)
    out = {"fixture": "fixtures/hf/mistral-lm", "overrides": {"sliding_window": WINDOW},
           "transformers": transformers.__version__, "torch": torch.__version__, "cases": cases,
           "batch": batches["right"], "batch_left_padded": batches["left"],
           "generate": {"prompt": prompt, "prompt_ids": ids[0].tolist(), "greedy_ids": cached,
                        "max_new_tokens": MAX_NEW_TOKENS, "note": "no end token: all max_new_tokens are generated"}}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(len(cases), [len(c["input_ids"]) for c in cases], cached)


if __name__ == "__main__":
    main()
