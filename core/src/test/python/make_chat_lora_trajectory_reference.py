#!/usr/bin/env python3
"""Writes the reference that ChatTrajectorySuite holds the `chat` task with LoRA to: 12 AdamW steps of a
PEFT LoRA adapter over ``fixtures/hf/llama-lm`` (LlamaForCausalLM, tiny random weights, Llama 3 chat
template) on the 8 conversations of make_chat_trajectory_reference.py, loss on the assistant tokens only,
written as the plain PyTorch loop a user of transformers + PEFT writes by hand.

Adapter: ``peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear",
init_lora_weights=False)`` (every linear layer of the decoder but ``lm_head``; A and B both random, so the
first step already moves both), made under ``torch.manual_seed(0)``. The start adapter, as PEFT's
``save_pretrained`` writes it (``adapter_config.json`` and every tensor of ``adapter_model.safetensors``),
goes into the JSON under ``start_adapter`` so the Java test writes the same folder and trains from it.

Data, batches and schedule are the full fine-tune's: batches of 2 in file order, padded on the right;
torch.optim.AdamW over the adapter's parameters only (the base is frozen), learning rate 1e-3, betas
(0.9, 0.999), eps 1e-8, weight decay 0.01 on the parameters ``Trainer.get_decay_parameter_names`` keeps
(all of the adapter's), linear schedule with 2 warmup steps, ``clip_grad_norm_`` 1.0 over the adapter.
Written per step: loss, gradient norm before clipping, learning rate; after the last step the logits of
the last 4 positions of the first conversation (eval mode) and, for every adapter tensor (PEFT's saved
names), its L2 norm and how far training moved it.

Run from the repository root with a venv that has torch, transformers 5 and peft::

    /work/venv/bin/python core/src/test/python/make_chat_lora_trajectory_reference.py \
        --fixture ../shared/fixtures/hf/llama-lm \
        --out core/src/test/resources/dev/attune/testing/llama-chat-lora-trajectory.json
"""

import argparse
import json
import os
import sys
import tempfile

import peft
import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, get_linear_schedule_with_warmup

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_chat_trajectory_reference import CONVERSATIONS, SETTINGS, collate, encode  # noqa: E402

LORA = {"r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "target_modules": "all-linear"}


def saved_adapter(model):
    """The adapter as save_pretrained writes it: its config and its tensors by saved name."""
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d)
        with open(os.path.join(d, "adapter_config.json")) as f:
            config = json.load(f)
        tensors = load_file(os.path.join(d, "adapter_model.safetensors"))
    return config, tensors


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fixture", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(a.fixture)
    rows = [encode(tokenizer, c) for c in CONVERSATIONS]
    base = AutoModelForCausalLM.from_pretrained(a.fixture, dtype=torch.float32)
    model = peft.get_peft_model(base, peft.LoraConfig(task_type="CAUSAL_LM", init_lora_weights=False, **LORA))
    config, start = saved_adapter(model)
    config["base_model_name_or_path"] = "fixtures/hf/llama-lm"
    trainable = [(n, q) for n, q in model.named_parameters() if q.requires_grad]
    with tempfile.TemporaryDirectory() as d:
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=d, report_to="none", use_cpu=True))
        decay = set(trainer.get_decay_parameter_names(model))
    groups = [{"params": [q for n, q in trainable if n in decay], "weight_decay": SETTINGS["weight_decay"]},
              {"params": [q for n, q in trainable if n not in decay], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=SETTINGS["learning_rate"], betas=(SETTINGS["adam_beta1"], SETTINGS["adam_beta2"]),
                            eps=SETTINGS["adam_epsilon"])
    sched = get_linear_schedule_with_warmup(opt, SETTINGS["warmup_steps"], SETTINGS["max_steps"])
    model.train()
    steps, b, n = [], SETTINGS["per_device_train_batch_size"], len(rows)
    for step in range(SETTINGS["max_steps"]):
        lr = sched.get_last_lr()[0]
        batch = collate([rows[(step * b + i) % n] for i in range(b)], tokenizer.pad_token_id)
        loss = model(**batch).loss
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([q for _, q in trainable], SETTINGS["max_grad_norm"]).item()
        opt.step()
        sched.step()
        opt.zero_grad()
        steps.append({"step": step + 1, "loss": loss.item(), "grad_norm": norm, "learning_rate": lr})
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([rows[0]["input_ids"]])).logits[0, -4:].tolist()
    _, final = saved_adapter(model)
    params = {name: {"norm": q.norm().item(), "displacement": (q - start[name]).norm().item()}
              for name, q in final.items()}
    out = {"fixture": "fixtures/hf/llama-lm", "transformers": transformers.__version__, "torch": torch.__version__,
           "peft": peft.__version__, "settings": SETTINGS, "lora": LORA, "conversations": CONVERSATIONS,
           "start_adapter": {"config": config,
                             "tensors": {k: {"shape": list(v.shape), "values": v.flatten().tolist()}
                                         for k, v in sorted(start.items())}},
           "trainable": sorted(n for n, _ in trainable), "no_decay": sorted(n for n, _ in trainable if n not in decay),
           "steps": steps, "final": {"logits_first": logits, "parameters": params}}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(json.dumps(steps[0]), json.dumps(steps[-1]))


if __name__ == "__main__":
    main()
