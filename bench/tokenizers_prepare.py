#!/usr/bin/env python3
"""The Python reference for `burngpt prepare`: the same tokenizer library (Hugging Face `tokenizers`)
driven from Python, on the same files, with the same tokenizer settings.

It trains a byte-level BPE (no prefix space, GPT-2's pre-tokenizer regex, the 256 byte symbols as the
initial alphabet, min_frequency 0) on the first --train-fraction of the corpus's characters, streamed to
`train_from_iterator` in the same ~1 MiB line-ended chunks burngpt reads, then encodes every chunk with
`encode_batch` (batches of --batch chunks) and writes the ids as uint16 to --out. Threads: the library's
rayon pool (RAYON_NUM_THREADS). Prints one JSON line: train_s, encode_s, total_s, chars, tokens.

    python3 -m venv venv && venv/bin/pip install tokenizers
    RAYON_NUM_THREADS=2 venv/bin/python bench/tokenizers_prepare.py CORPUS_DIR --vocab-size 8000 --out /tmp/ids.bin
"""

import argparse
import array
import json
import os
import time

from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders

CHUNK = 1 << 20


def chunks(files):
    """~1 MiB chunks ending at a line break, file by file (burngpt's TextSource)."""
    for path in files:
        with open(path, encoding="utf-8", newline="") as f:
            buf, size = [], 0
            for line in f:
                buf.append(line)
                size += len(line.encode("utf-8"))
                if size >= CHUNK:
                    yield "".join(buf)
                    buf, size = [], 0
            if buf:
                yield "".join(buf)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", help="a .txt file or a directory of .txt files (name order)")
    ap.add_argument("--vocab-size", type=int, default=8000)
    ap.add_argument("--train-fraction", type=float, default=0.9)
    ap.add_argument("--batch", type=int, default=64, help="chunks per encode_batch call")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if os.path.isdir(args.corpus):
        files = sorted(os.path.join(args.corpus, n) for n in os.listdir(args.corpus) if n.endswith(".txt"))
    else:
        files = [args.corpus]
    chars = sum(len(c) for c in chunks(files))
    train_chars = int(chars * args.train_fraction)

    def train_split():
        seen = 0
        for c in chunks(files):
            if seen >= train_chars:
                return
            yield c[: train_chars - seen]
            seen += len(c)

    start = time.perf_counter()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab_size, min_frequency=0, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(train_split(), trainer=trainer)
    train_s = time.perf_counter() - start

    start = time.perf_counter()
    tokens = 0
    with open(args.out, "wb") as out:
        batch = []
        for c in chunks(files):
            batch.append(c)
            if len(batch) == args.batch:
                for enc in tok.encode_batch(batch, add_special_tokens=False):
                    array.array("H", enc.ids).tofile(out)
                    tokens += len(enc.ids)
                batch = []
        for enc in tok.encode_batch(batch, add_special_tokens=False) if batch else []:
            array.array("H", enc.ids).tofile(out)
            tokens += len(enc.ids)
    encode_s = time.perf_counter() - start
    print(json.dumps({"train_s": train_s, "encode_s": encode_s, "total_s": train_s + encode_s,
                      "chars": chars, "tokens": tokens, "vocab": tok.get_vocab_size()}))


if __name__ == "__main__":
    main()
