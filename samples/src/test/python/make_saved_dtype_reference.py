"""Reference for SavedDtypeTest: what PyTorch makes of models/gpt-small-bpe-clm (a float16 checkpoint)
stored as float32, bfloat16 and float16.

For each dtype: the SHA-256 of every tensor's bytes after `tensor.to(dtype)` (the bytes a saved folder
must hold), and the logits of the model whose weights are those values widened back to float32 (what
Attune computes on a folder it saved in that dtype), for a few vocabulary columns. The test is Python-free:
it compares Attune's saved tensors and logits to this file.

Run from the project root:
  /work/venv/bin/python samples/src/test/python/make_saved_dtype_reference.py ../shared \
      samples/src/test/resources/dev/attune/library/saved_dtype_reference.json
"""
import hashlib
import json
import sys

import torch
from transformers import AutoModelForCausalLM

shared, out = sys.argv[1], sys.argv[2]
folder = f"{shared}/models/gpt-small-bpe-clm"
INPUT_IDS = [[5, 911, 42, 7, 3000, 12, 8191, 1], [100, 200, 300, 400, 500, 600, 700, 800]]
COLUMNS = 64  # logits kept per position: vocabulary ids 0..63, and the row's max over the whole vocabulary

model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
base = {k: v.detach().clone() for k, v in model.state_dict().items()}
ids = torch.tensor(INPUT_IDS)
result = {"model": "models/gpt-small-bpe-clm", "input_ids": INPUT_IDS, "columns": COLUMNS,
          "torch": torch.__version__, "dtypes": {}}
for name, dtype in [("float32", torch.float32), ("bfloat16", torch.bfloat16), ("float16", torch.float16)]:
    stored = {k: v.to(dtype) for k, v in base.items()}
    digests = {}
    for k, v in stored.items():
        raw = v.contiguous().view(torch.int16 if v.element_size() == 2 else torch.int32).numpy().astype("<i%d" % v.element_size())
        digests[k] = hashlib.sha256(raw.tobytes()).hexdigest()
    model.load_state_dict({k: v.float() for k, v in stored.items()})
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    result["dtypes"][name] = {
        "sha256": digests,
        "logits": logits[:, :, :COLUMNS].tolist(),
        "row_max": logits.max(dim=-1).values.tolist(),
    }
with open(out, "w") as f:
    json.dump(result, f)
    f.write("\n")
print("wrote", out)
