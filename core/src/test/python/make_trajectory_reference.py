#!/usr/bin/env python3
"""Writes the reference trajectory that TrainingTrajectorySuite (core's test-jar) holds every engine to.

What it does: fine-tunes the shared fixture ``fixtures/hf/bert-seqcls`` (BertForSequenceClassification,
2 labels, tiny random weights) for 12 optimizer steps on 8 short labelled texts, the way HuggingFace's
Trainer does it, and writes per step the loss, the gradient norm before clipping and the learning rate,
then the logits of the 8 texts and, of the trained model, a few parameters whole, a few as sums and L2
norms, and for every parameter how far training moved it (the L2 norm of final minus initial values).

The fixture's weights are tiny and random, so its logits start near 0 and the loss stays near ln 2 (it
falls by about 1e-3 in 12 steps): the losses and logits show gross errors only. The parameters tell
more, since AdamW moves each weight by about the learning rate per step whatever the gradient's size:
the displacements show the weight decay of one group, the bias correction and the clipping.

Each variant is run twice and the two runs must agree before anything is written:

* ``transformers.Trainer`` itself (optim ``adamw_torch``, ``train_sampling_strategy="sequential"``), its
  per-step ``loss``, ``grad_norm`` and ``learning_rate`` read from ``state.log_history``;
* the loop a PyTorch user writes by hand: ``torch.optim.AdamW`` over two parameter groups (weight decay
  0.01 on every parameter but biases and LayerNorm weights, the Trainer's ``get_decay_parameter_names``),
  ``get_linear_schedule_with_warmup``, ``clip_grad_norm_(…, 1.0)`` and ``loss / accumulation`` before
  ``backward()``. Its numbers are the ones written.

Settings (both variants): learning rate 1e-3, linear schedule with 2 warmup steps (the first step's rate
is 0), weight decay 0.01, betas (0.9, 0.999), eps 1e-8, max grad norm 1.0, batch size 2, 12 steps, a
fixed batch order (micro-batch k holds examples 2k and 2k+1 mod 8: no shuffling), padding to the longest
text of the batch. Dropout is off through the config (``hidden_dropout_prob`` and
``attention_probs_dropout_prob`` 0, so the classifier's dropout, which defaults to the hidden one, is 0
too) while the model stays in training mode as the Trainer leaves it; Attune gets the same two config
overrides. The final logits are computed in eval mode, one text at a time, without padding.

Variant ``clip-0.005`` is variant ``batch-2`` with max grad norm 0.005 instead of 1.0: the gradients of
this model have norms of about 0.002 to 0.02, so with 1.0 no step is clipped, with 0.005 the later ones
are (Adam is not invariant to a scale that changes from step to step, so the clipping shows in the
weights).

Variant ``accumulate-2`` takes two micro-batches of 2 per step. There the Trainer and the hand-written
loop differ, and the script says so instead of failing: transformers 5 passes ``num_items_in_batch`` to
any model whose ``forward`` takes ``**kwargs`` and then no longer divides the loss by the accumulation
steps, but BertForSequenceClassification ignores it and returns the micro-batch mean, so the Trainer's
gradient (and logged loss) is the *sum* over the micro-batches, twice the mean. The hand-written loop
(the mean of the micro-batch means: what the Trainer computes for models whose ``forward`` takes no
``**kwargs``, and what Attune computes) is what is written; the Trainer's numbers go in
``hf_trainer`` beside it for the record. With the gradient clipped to norm 1 at every step, AdamW's
updates are nearly scale-free, so both give nearly the same weights (see ``hf_trainer``).

Run it from the repository root with a venv that has torch and transformers (5.x; the file records the
versions it was made with)::

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch transformers
    /tmp/venv/bin/python core/src/test/python/make_trajectory_reference.py \
        --fixture ../shared/fixtures/hf/bert-seqcls \
        --out core/src/test/resources/dev/attune/testing/bert-seqcls-trajectory.json
"""

import argparse
import json
import math
import pathlib
import sys
import tempfile

import torch
import transformers
from torch import nn
from transformers import (
    AutoTokenizer,
    BertForSequenceClassification,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
    get_linear_schedule_with_warmup,
)

LABELS = ["neg", "pos"]
EXAMPLES = [
    ("I loved this movie, the acting was wonderful.", "pos"),
    ("Terrible plot and boring characters!", "neg"),
    ("What a great day at the beach with my friends", "pos"),
    ("The food was cold and the service was slow.", "neg"),
    ("A warm, funny and moving story.", "pos"),
    ("I want my money back", "neg"),
    ("Best concert I have been to in years, simply brilliant and loud", "pos"),
    ("It broke after one day.", "neg"),
]
SETTINGS = {
    "learning_rate": 1e-3,
    "lr_scheduler_type": "linear",
    "warmup_steps": 2,
    "weight_decay": 0.01,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
    "max_grad_norm": 1.0,
    "per_device_train_batch_size": 2,
    "max_steps": 12,
    "max_length": 128,
}
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
# parameters whose every value is written (small), and parameters summarised by sum and L2 norm
WHOLE = ["classifier.weight", "classifier.bias"]
SUMMARISED = [
    "bert.embeddings.word_embeddings.weight",
    "bert.embeddings.LayerNorm.weight",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.1.output.dense.bias",
    "bert.encoder.layer.1.output.LayerNorm.bias",
    "bert.pooler.dense.weight",
]
# how far the hand-written loop may be from the Trainer where both must agree
AGREE = 1e-6


def load_model(fixture):
    return BertForSequenceClassification.from_pretrained(fixture, **NO_DROPOUT)


def encode(tokenizer):
    features = []
    for text, label in EXAMPLES:
        enc = tokenizer(text, truncation=True, max_length=SETTINGS["max_length"])
        features.append({**enc, "labels": LABELS.index(label)})
    return features


def no_decay_names(model):
    """Biases and the weights of LayerNorm modules: what the Trainer's get_decay_parameter_names leaves out."""
    norms = {name for name, module in model.named_modules() if isinstance(module, nn.LayerNorm)}
    out = []
    for name, _ in model.named_parameters():
        owner = name.rsplit(".", 1)[0]
        if name.endswith("bias") or owner in norms:
            out.append(name)
    return out


def hand_written(fixture, features, collator, settings):
    """The loop a PyTorch user writes: the numbers that are written."""
    model = load_model(fixture)
    model.train()
    accumulation = settings["gradient_accumulation_steps"]
    skip = set(no_decay_names(model))
    groups = [
        {"params": [p for n, p in model.named_parameters() if n not in skip], "weight_decay": settings["weight_decay"]},
        {"params": [p for n, p in model.named_parameters() if n in skip], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=settings["learning_rate"],
                                  betas=(settings["adam_beta1"], settings["adam_beta2"]), eps=settings["adam_epsilon"])
    scheduler = get_linear_schedule_with_warmup(optimizer, settings["warmup_steps"], settings["max_steps"])
    batch = settings["per_device_train_batch_size"]
    n = len(features)
    steps = []
    micro = 0
    for step in range(settings["max_steps"]):
        learning_rate = scheduler.get_last_lr()[0]
        losses = []
        for _ in range(accumulation):
            rows = [features[(micro * batch + i) % n] for i in range(batch)]
            micro += 1
            loss = model(**collator(rows)).loss
            (loss / accumulation).backward()
            losses.append(loss.item())
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), settings["max_grad_norm"]).item()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        steps.append({"step": step + 1, "loss": sum(losses) / accumulation, "grad_norm": grad_norm,
                      "learning_rate": learning_rate})
    return model, steps


class Rows(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def hf_trainer(fixture, tokenizer, features, settings):
    """HuggingFace's Trainer on the same data and settings, for the cross-check."""
    model = load_model(fixture)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, learning_rate=settings["learning_rate"], lr_scheduler_type=settings["lr_scheduler_type"],
            warmup_steps=settings["warmup_steps"], weight_decay=settings["weight_decay"],
            adam_beta1=settings["adam_beta1"], adam_beta2=settings["adam_beta2"], adam_epsilon=settings["adam_epsilon"],
            max_grad_norm=settings["max_grad_norm"], per_device_train_batch_size=settings["per_device_train_batch_size"],
            gradient_accumulation_steps=settings["gradient_accumulation_steps"], max_steps=settings["max_steps"],
            logging_steps=1,
            train_sampling_strategy="sequential", optim="adamw_torch", save_strategy="no", report_to="none",
            use_cpu=True, seed=42, disable_tqdm=True, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=Rows(features), processing_class=tokenizer)
        decayed = set(trainer.get_decay_parameter_names(model))
        trainer.train()
    steps = [{"step": h["step"], "loss": h["loss"], "grad_norm": h["grad_norm"], "learning_rate": h["learning_rate"]}
             for h in trainer.state.log_history if "loss" in h]
    return model, steps, decayed


def final_state(model, initial, features):
    model.eval()
    logits = []
    with torch.no_grad():
        for f in features:
            ids = {k: torch.tensor([f[k]]) for k in ("input_ids", "token_type_ids", "attention_mask")}
            logits.append(model(**ids).logits[0].tolist())
    params = dict(model.named_parameters())
    whole = {name: params[name].detach().reshape(-1).tolist() for name in WHOLE}
    summary = {}
    for name in SUMMARISED:
        t = params[name].detach().double()
        summary[name] = {"sum": t.sum().item(), "norm": t.norm().item()}
    start = dict(initial.named_parameters())
    displacement = {name: (p.detach().double() - start[name].detach().double()).norm().item()
                    for name, p in model.named_parameters()}
    return {"logits": logits, "parameters": whole, "parameter_summaries": summary, "displacements": displacement}


def rounded(value):
    """Nine significant digits: every float32 value exactly, and a file a reader can diff."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def layout(value, depth=0):
    """JSON with one line per list of numbers or strings and per step record, so the file stays short."""
    pad = " " * depth
    if isinstance(value, dict) and not all(isinstance(v, (int, float, str)) for v in value.values()):
        items = [f'{pad} {json.dumps(k)}: {layout(v, depth + 1)}' for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(pad + " " + layout(v, depth + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value)


def max_difference(a, b, key):
    return max(abs(x[key] - y[key]) for x, y in zip(a, b))


def weights_difference(a, b):
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    return max((pa[n] - pb[n]).abs().max().item() for n in pa)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixture", required=True, help="the bert-seqcls fixture folder")
    parser.add_argument("--out", required=True, help="the JSON file to write")
    a = parser.parse_args()
    torch.manual_seed(42)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tokenizer = AutoTokenizer.from_pretrained(a.fixture)
    features = encode(tokenizer)
    collator = DataCollatorWithPadding(tokenizer, return_tensors="pt")

    variants = []
    initial = load_model(a.fixture)
    for name, accumulation, max_grad_norm in (("batch-2", 1, 1.0), ("clip-0.005", 1, 0.005), ("accumulate-2", 2, 1.0)):
        settings = {**SETTINGS, "max_grad_norm": max_grad_norm, "gradient_accumulation_steps": accumulation}
        mine, steps = hand_written(a.fixture, features, collator, settings)
        theirs, trainer_steps, decayed = hf_trainer(a.fixture, tokenizer, features, settings)
        skip = no_decay_names(mine)
        if decayed != {n for n, _ in mine.named_parameters()} - set(skip):
            sys.exit("the no-decay grouping differs from the Trainer's get_decay_parameter_names")
        differences = {k: max_difference(steps, trainer_steps, k) for k in ("loss", "grad_norm", "learning_rate")}
        differences["weights"] = weights_difference(mine, theirs)
        print(f"{name}: hand-written loop vs Trainer, max |difference| {differences}")
        variant = {
            "name": name,
            "settings": settings,
            "steps": steps,
            "clipped_steps": [s["step"] for s in steps if s["grad_norm"] > max_grad_norm],
            "final": final_state(mine, initial, features),
        }
        if accumulation == 1:
            if len(trainer_steps) != len(steps) or max(differences.values()) > AGREE:
                sys.exit(f"{name}: the hand-written loop is not the Trainer's: {differences}")
        else:
            # the Trainer's own numbers, which differ (see the module docstring)
            variant["hf_trainer"] = {
                "note": "transformers.Trainer sums the micro-batch means of BertForSequenceClassification under"
                        " gradient accumulation (model_accepts_loss_kwargs, num_items_in_batch ignored by the"
                        " model); the steps above are the mean, as the hand-written loop computes it",
                "steps": trainer_steps,
                "max_weight_difference_from_steps_above": differences["weights"],
            }
        variants.append(variant)

    reference = {
        "made_by": "core/src/test/python/make_trajectory_reference.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "fixture": "fixtures/hf/bert-seqcls",
        "config_overrides": {k: str(v) for k, v in NO_DROPOUT.items()},
        "labels": LABELS,
        "texts": [t for t, _ in EXAMPLES],
        "label_names": [label for _, label in EXAMPLES],
        "input_ids": [f["input_ids"] for f in features],
        "token_type_ids": [f["token_type_ids"] for f in features],
        "no_decay": no_decay_names(initial),
        "batch_order": "micro-batch k holds examples 2k and 2k+1 mod 8 (no shuffling)",
        "dropout": "off through the config overrides; training mode during the steps, eval mode for the logits",
        "variants": variants,
    }
    path = pathlib.Path(a.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(layout(rounded(reference)) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
