"""Components the tiny offline models of several families share: CLIP text encoders and their
tokenizer, a VAE, a UNet, a scheduler, all from a config's plain keyword dicts."""

from __future__ import annotations

import functools
import gzip
import math
from pathlib import Path

T5_SPECIAL = ("<pad>", "</s>", "<unk>")
WORD_START = "\u2581"  # SentencePiece's mark of a word's start


@functools.cache
def clip_bpe_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary and merges, rebuilt from the BPE file open_clip ships (once per process;
    callers copy before handing them to a tokenizer).

    This is the token order of open_clip's SimpleTokenizer, so ids agree with OpenAI's CLIP
    tokenizer; the special tokens take transformers' spelling.
    """
    from open_clip.tokenizer import bytes_to_unicode, default_bpe

    with gzip.open(default_bpe(), "rt", encoding="utf-8") as f:
        merges = [tuple(line.split()) for line in f.read().split("\n")[1 : 49152 - 256 - 2 + 1]]
    byte_tokens = list(bytes_to_unicode().values())
    tokens = byte_tokens + [t + "</w>" for t in byte_tokens]
    tokens += ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges


def clip_tokenizer(options: dict | None = None):
    """CLIP's tokenizer; `options` are CLIPTokenizer keywords (SDXL's second pads with "!")."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_bpe_vocab()
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), **(options or {"model_max_length": 77}))


def t5_vocab(pieces: int = 32000, extra_ids: int = 100, capitalize_top: int = 3000) -> list[tuple[str, float]]:
    """A Unigram vocabulary in T5's layout, as (piece, log-probability) in id order.

    No SentencePiece model can be fetched offline, so the pieces come from CLIP's BPE merges
    (roughly in frequency order), each as a word start ("▁paint") and a continuation ("paint"),
    the commonest also capitalised (CLIP is lower-case, T5 is not); every printable ASCII
    character is a low-scored piece, so English text never falls to <unk>. Ids: <pad> 0, </s> 1,
    <unk> 2, the pieces, then the sentinels <extra_id_99> .. <extra_id_0>, as in T5.
    """
    budget = pieces - len(T5_SPECIAL)
    found: dict[str, float] = {}

    def add(piece: str, score: float) -> None:
        if len(found) < budget:
            found.setdefault(piece, score)

    add(WORD_START, -2.0)
    for code in range(33, 127):
        add(WORD_START + chr(code), -12.0)
        add(chr(code), -12.5)
    for rank, (left, right) in enumerate(clip_bpe_vocab()[1]):
        word = (left + right).removesuffix("</w>")
        if not (word.isascii() and word.isprintable() and " " not in word):
            continue
        score = -math.log(rank + 2)  # frequent merges first, so Viterbi prefers long common pieces
        add(WORD_START + word, score)
        add(word, score - 0.5)
        if rank < capitalize_top and len(word) > 1 and word.isalpha() and word.islower():
            add(WORD_START + word.capitalize(), score - 1.0)
    return ([(t, 0.0) for t in T5_SPECIAL] + list(found.items())
            + [(f"<extra_id_{i}>", 0.0) for i in range(extra_ids - 1, -1, -1)])


def t5_tokenizer(options: dict):
    """A T5Tokenizer (a `tokenizers` Unigram model in transformers 5) built from `t5_vocab`."""
    from transformers import T5Tokenizer

    extra_ids = options.get("extra_ids", 100)
    vocab = t5_vocab(options.get("num_pieces", 32000), extra_ids, options.get("capitalize_top", 3000))
    return T5Tokenizer(vocab=vocab, extra_ids=extra_ids, model_max_length=options.get("model_max_length", 512))


def save_t5_tokenizer(options: dict, folder: Path) -> None:
    """Save the tiny T5 tokenizer with the files its real repo ships (`options["files"]`, looked up
    in the repo's tree: PixArt-Σ's `tokenizer/` holds spiece.model, special_tokens_map.json and
    tokenizer_config.json only; SD3's `tokenizer_3/` tokenizer.json too). spiece.model is a
    SentencePiece Unigram model of the same vocabulary, so loading a folder without tokenizer.json
    goes through transformers' SentencePiece conversion (sentencepiece and protobuf), as the real one does."""
    import json

    tokenizer = t5_tokenizer(options)
    tokenizer.save_pretrained(folder)
    files = set(options.get("files", ("spiece.model", "special_tokens_map.json", "tokenizer_config.json",
                                       "tokenizer.json")))
    extra_ids = options.get("extra_ids", 100)
    pieces = t5_vocab(options.get("num_pieces", 32000), extra_ids, options.get("capitalize_top", 3000))
    (folder / "spiece.model").write_bytes(_sentencepiece_model(pieces[: len(pieces) - extra_ids]))
    special = {"eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
               "additional_special_tokens": [f"<extra_id_{i}>" for i in range(extra_ids)]}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    for path in folder.iterdir():
        if path.name not in files:
            path.unlink()


def _sentencepiece_model(pieces: list[tuple[str, float]]) -> bytes:
    """A serialized SentencePiece Unigram ModelProto in T5's layout (<pad> 0, </s> 1, <unk> 2)."""
    from sentencepiece import sentencepiece_model_pb2 as sp

    model = sp.ModelProto()
    model.trainer_spec.model_type = sp.TrainerSpec.UNIGRAM
    model.trainer_spec.vocab_size = len(pieces)
    model.trainer_spec.pad_id, model.trainer_spec.eos_id, model.trainer_spec.unk_id, model.trainer_spec.bos_id = 0, 1, 2, -1
    model.normalizer_spec.name = "identity"
    model.normalizer_spec.add_dummy_prefix = True
    model.normalizer_spec.remove_extra_whitespaces = True
    model.normalizer_spec.escape_whitespaces = True
    kinds = {"<pad>": sp.ModelProto.SentencePiece.CONTROL, "</s>": sp.ModelProto.SentencePiece.CONTROL,
             "<unk>": sp.ModelProto.SentencePiece.UNKNOWN}
    for text, score in pieces:
        model.pieces.add(piece=text, score=score, type=kinds.get(text, sp.ModelProto.SentencePiece.NORMAL))
    return model.SerializeToString()


def build_t5(config: dict):
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(**config))


def build_clip_text(config: dict, with_projection: bool = False):
    """A CLIP text encoder; `with_projection` gives the pooled, projected output SDXL and SD3 use."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    model = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    return model(CLIPTextConfig(**config))


def make_scheduler(config: dict):
    import diffusers

    options = dict(config["scheduler"])
    return getattr(diffusers, options.pop("_class_name"))(**options)


def tiny_vae(config: dict):
    from diffusers import AutoencoderKL

    return AutoencoderKL(**config["vae"])


def tiny_unet(config: dict):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(**config["unet"])
