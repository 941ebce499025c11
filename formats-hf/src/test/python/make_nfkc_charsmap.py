"""Writes src/test/resources/tokenizers/nmt_nfkc_charsmap.b64: SentencePiece's own nmt_nfkc
normalization table as the Base64 `precompiled_charsmap` a `Precompiled` normalizer of a
tokenizer.json holds (a real double-array trie, for TokenizerHostileTest).

Needs `pip install sentencepiece`. The table is built into sentencepiece; a tiny model is trained
only to have it written out. Usage: python make_nfkc_charsmap.py OUT_FILE CORPUS_TEXT_FILE
"""
import base64
import sys
import tempfile

import sentencepiece as spm


def varint(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def fields(b):
    """(field number, value) of a protobuf message, length-delimited values as bytes."""
    i = 0
    while i < len(b):
        tag, i = varint(b, i)
        f, w = tag >> 3, tag & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % w)
        yield f, v


def main(out, corpus):
    with tempfile.TemporaryDirectory() as d:
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=d + "/m", vocab_size=300, model_type="unigram",
                                       normalization_rule_name="nmt_nfkc", minloglevel=2)
        model = open(d + "/m.model", "rb").read()
    spec = [v for f, v in fields(model) if f == 3][0]  # ModelProto.normalizer_spec
    charsmap = [v for f, v in fields(spec) if f == 2][0]  # NormalizerSpec.precompiled_charsmap
    open(out, "w").write(base64.b64encode(charsmap).decode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
