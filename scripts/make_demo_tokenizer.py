"""Regenerates generation/demo_tokenizer.json, the demo model's CLIP BPE vocabulary and merges.

BPE training breaks ties in no fixed order, so the result is committed rather than trained at kit-build time:
that keeps the demo kit identical on every machine. Run it only when generation/demo_vocab.py changes (and bump
KIT_VERSION in generation/demo_kit.py).
"""

import json
import sys
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.demo_kit import bytes_to_unicode  # noqa: E402
from generation.demo_vocab import DEMO_WORDS  # noqa: E402

SPECIALS = ["<|startoftext|>", "<|endoftext|>"]


def main() -> None:
    tokenizer = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=30000,
        min_frequency=1,
        special_tokens=SPECIALS,
        end_of_word_suffix="</w>",
        initial_alphabet=list(bytes_to_unicode().values()),
        show_progress=False,
    )
    tokenizer.train_from_iterator([" ".join(DEMO_WORDS)], trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocab = dict(model["vocab"])
    for char in bytes_to_unicode().values():  # every character can also end a word (punctuation, digits)
        vocab.setdefault(char + "</w>", len(vocab))
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
    target = Path(__file__).resolve().parents[1] / "generation" / "demo_tokenizer.json"
    target.write_text(json.dumps({"vocab": vocab, "merges": merges}, separators=(",", ":")) + "\n")
    print(f"wrote {target}: {len(vocab)} tokens, {len(merges)} merges")


if __name__ == "__main__":
    main()
