#!/usr/bin/env python3
"""Writes the reference that ChatTrajectorySuite holds the `chat` task to: 12 AdamW steps of supervised
fine-tuning of ``fixtures/hf/llama-lm`` (LlamaForCausalLM, tiny random weights, Llama 3 chat template) on
8 short conversations, loss on the assistant tokens only, written as the plain PyTorch loop a user of
transformers writes by hand (what TRL's SFTTrainer computes with ``assistant_only_loss``).

Data: each conversation is rendered with ``tokenizer.apply_chat_template(messages, tokenize=False)`` and
tokenised without added special tokens (``apply_chat_template(tokenize=True)``). The assistant mask holds
every token of an assistant reply and the end-of-turn token (``eos_token``, ``<|eot_id|>``) after it: the
reply's characters are found in the rendered text in message order and mapped to tokens through the
tokenizer's offsets. Labels are the input ids where the mask is 1, -100 elsewhere (the model shifts them).
Batches of 2 in file order (micro-batch k holds conversations 2k and 2k+1 mod 8), padded on the right with
the pad id (attention mask 0, label -100).

Optimizer: torch.optim.AdamW, learning rate 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on
every parameter but those ``Trainer.get_decay_parameter_names`` leaves out (the RMSNorm weights),
``get_linear_schedule_with_warmup`` with 2 warmup steps, ``clip_grad_norm_(..., 1.0)``, 12 steps. The
fixture has no dropout. Written per step: loss, gradient norm before clipping, learning rate; after the
last step the logits of the last 4 positions of the first conversation (eval mode), and for every parameter its L2 norm and how
far training moved it.

Run from the repository root with a venv that has torch and transformers 5::

    /work/venv/bin/python core/src/test/python/make_chat_trajectory_reference.py \
        --fixture ../shared/fixtures/hf/llama-lm \
        --out core/src/test/resources/dev/attune/testing/llama-chat-trajectory.json
"""

import argparse
import json
import tempfile

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, get_linear_schedule_with_warmup

CONVERSATIONS = [
    [{"role": "user", "content": "I want to book a table for two tonight."},
     {"role": "assistant", "content": "Sure, which restaurant would you like?"}],
    [{"role": "system", "content": "You answer briefly."},
     {"role": "user", "content": "What time does the museum open?"},
     {"role": "assistant", "content": "It opens at 9 am."}],
    [{"role": "user", "content": "Find me a flight to Boston."},
     {"role": "assistant", "content": "For which date?"},
     {"role": "user", "content": "Next Friday, in the morning."},
     {"role": "assistant", "content": "There is one at 8:15 with United."}],
    [{"role": "user", "content": "Is it going to rain tomorrow?"},
     {"role": "assistant", "content": "Yes, light rain in the afternoon."}],
    [{"role": "system", "content": "You are a travel agent."},
     {"role": "user", "content": "I need a hotel in Paris."},
     {"role": "assistant", "content": "How many nights will you stay?"}],
    [{"role": "user", "content": "Play some jazz music."},
     {"role": "assistant", "content": "Playing Kind of Blue by Miles Davis."}],
    [{"role": "user", "content": "Set an alarm for 7."},
     {"role": "assistant", "content": "Alarm set for 7 am."},
     {"role": "user", "content": "Thanks!"},
     {"role": "assistant", "content": "You are welcome."}],
    [{"role": "user", "content": "How far is the station?"},
     {"role": "assistant", "content": "About ten minutes on foot."}],
]
SETTINGS = {"learning_rate": 1e-3, "warmup_steps": 2, "weight_decay": 0.01, "adam_beta1": 0.9, "adam_beta2": 0.999,
            "adam_epsilon": 1e-8, "max_grad_norm": 1.0, "per_device_train_batch_size": 2, "max_steps": 12,
            "max_length": 256}


def encode(tokenizer, messages):
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = tokenizer.apply_chat_template(messages, tokenize=True)
    ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
    assert list(ids) == enc["input_ids"], "apply_chat_template ids differ from tokenising its text"
    spans, cursor = [], 0
    for m in messages:
        at = text.find(m["content"], cursor)
        length = len(m["content"])
        if at < 0:
            at = text.find(m["content"].strip(), cursor)
            length = len(m["content"].strip())
        if at < 0:
            continue
        end = at + length
        if m["role"] == "assistant":
            if text.startswith(tokenizer.eos_token, end):
                end += len(tokenizer.eos_token)
            spans.append((at, end))
        cursor = end
    mask = [int(any(s < e_ and e > s_ for s_, e_ in spans)) for s, e in enc["offset_mapping"]]
    return {"text": text, "input_ids": enc["input_ids"], "assistant_mask": mask}


def collate(rows, pad):
    width = max(len(r["input_ids"]) for r in rows)
    ids, att, labels = [], [], []
    for r in rows:
        n = len(r["input_ids"])
        ids.append(r["input_ids"] + [pad] * (width - n))
        att.append([1] * n + [0] * (width - n))
        labels.append([t if m else -100 for t, m in zip(r["input_ids"], r["assistant_mask"])] + [-100] * (width - n))
    return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(att), "labels": torch.tensor(labels)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fixture", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(a.fixture)
    rows = [encode(tokenizer, c) for c in CONVERSATIONS]
    model = AutoModelForCausalLM.from_pretrained(a.fixture, dtype=torch.float32)
    initial = {n: q.detach().clone() for n, q in model.named_parameters()}
    with tempfile.TemporaryDirectory() as d:
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=d, report_to="none", use_cpu=True))
        decay = set(trainer.get_decay_parameter_names(model))
    groups = [{"params": [q for n, q in model.named_parameters() if n in decay], "weight_decay": SETTINGS["weight_decay"]},
              {"params": [q for n, q in model.named_parameters() if n not in decay], "weight_decay": 0.0}]
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
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), SETTINGS["max_grad_norm"]).item()
        opt.step()
        sched.step()
        opt.zero_grad()
        steps.append({"step": step + 1, "loss": loss.item(), "grad_norm": norm, "learning_rate": lr})
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([rows[0]["input_ids"]])).logits[0, -4:].tolist()
    params = {name: {"norm": q.detach().norm().item(), "displacement": (q.detach() - initial[name]).norm().item()}
              for name, q in model.named_parameters()}
    out = {"fixture": "fixtures/hf/llama-lm", "transformers": transformers.__version__, "torch": torch.__version__,
           "settings": SETTINGS, "conversations": CONVERSATIONS, "encoded": rows,
           "no_decay": sorted(n for n, _ in model.named_parameters() if n not in decay),
           "steps": steps, "final": {"logits_first": logits, "parameters": params}}
    with open(a.out, "w") as f:
        json.dump(out, f)
    print(json.dumps(steps[0]), json.dumps(steps[-1]))


if __name__ == "__main__":
    main()
