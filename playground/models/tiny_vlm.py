"""The tiny random-weight stand-in for SmolVLM2 (`tiny-offline-vlm`), built fully offline.

It uses the real classes of the SmolVLM2 checkpoint, so the code that loads and runs the real
judge loads and runs this one unchanged: `SmolVLMForConditionalGeneration` (a SigLIP-style
vision tower, the pixel-shuffle connector, a Llama text model; what `AutoModelForImageTextToText`
picks) and `SmolVLMProcessor` (image, video processors and a byte-level BPE tokenizer in
SmolLM2's id layout; what `AutoProcessor` picks). Only the sizes shrink (offline_configs/
tiny-offline-vlm.json). The tokenizer is trained here, in well under a second, on common English
words read from CLIP's BPE file (shipped with open_clip), so no Hub file is needed; its chat
template has SmolVLM2's form: ``<|im_start|>User:<image>QUESTION<end_of_utterance>\nAssistant:``.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLIP_BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"


def chat_template(tok: dict[str, Any]) -> str:
    """SmolVLM2's chat template, rebuilt from the tokenizer options.

    Renders ``<|im_start|>User:<image>QUESTION<end_of_utterance>\\nAssistant:`` for a user turn whose
    content starts with an image (the role is followed by ":" alone when the first content item is
    an image, by ": " otherwise), and ends with the generation prompt ``Assistant:`` with no trailing
    space or newline. The BOS text is written once, before the first turn, by the template itself.
    A ``video`` item renders as ``<video>`` (the processor expands it into frames).
    """
    return (
        tok["bos_token"]
        + "{% for message in messages %}"
        "{{ message['role'] | capitalize }}"
        "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
        "{% for line in message['content'] %}"
        "{% if line['type'] == 'text' %}{{ line['text'] }}"
        "{% elif line['type'] == 'image' %}{{ '" + tok["image_token"] + "' }}"
        "{% elif line['type'] == 'video' %}{{ '" + tok["video_token"] + "' }}"
        "{% endif %}"
        "{% endfor %}"
        + tok["end_of_utterance_token"]
        + "\n{% endfor %}"
        "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
    )


def grid_tokens(max_grid: int) -> list[str]:
    """The crop-position tokens ``<row_R_col_C>`` the processor writes before each image crop."""
    return [f"<row_{r}_col_{c}>" for r in range(1, max_grid + 1) for c in range(1, max_grid + 1)]


def tail_special_tokens(tok: dict[str, Any]) -> list[str]:
    """The VLM tokens appended after the BPE vocabulary, in id order (end-of-utterance last, as in
    SmolVLM2 where it is the highest id)."""
    return [tok["fake_image_token"], tok["image_token"], tok["global_image_token"],
            *grid_tokens(tok["max_grid"]), tok["end_of_utterance_token"]]


def clip_words(count: int) -> list[str]:
    """The first `count` whole lower-case ASCII words of CLIP's BPE merges (roughly by frequency).

    The file is located without importing open_clip (its import costs seconds); the token order is
    the one ``playground.engine.families._parts.clip_bpe_vocab`` gives.
    """
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("open_clip is not installed: no CLIP BPE file to take words from")
    path = Path(next(iter(spec.submodule_search_locations))) / CLIP_BPE_FILE
    words: list[str] = []
    seen: set[str] = set()
    with gzip.open(path, "rt", encoding="utf-8") as f:
        next(f)  # version header
        for line in f:
            parts = line.split()
            if len(parts) != 2 or not parts[1].endswith("</w>"):
                continue
            word = (parts[0] + parts[1]).removesuffix("</w>")
            if word.isascii() and word.isalpha() and word not in seen:
                seen.add(word)
                words.append(word)
                if len(words) == count:
                    break
    return words


def _training_lines(tok: dict[str, Any]) -> Iterator[str]:
    """Corpus for the BPE trainer: each word bare, after a space and capitalised, plus the words
    that must end up as single tokens repeated so that their merges come early."""
    for word in clip_words(tok["corpus_words"]):
        yield f"{word} {word} {word.capitalize()}"
    for _ in range(tok["single_token_repeat"]):
        yield "".join(tok["single_token_words"])


def build_tokenizer(tok: dict[str, Any]):
    """A byte-level BPE tokenizer in SmolLM2's layout, as a transformers ``GPT2Tokenizer``.

    Ids: the head special tokens (``<|endoftext|>`` 0, ``<|im_start|>`` 1, ``<|im_end|>`` 2), the
    256 byte symbols and the learned merges, then the VLM tokens (``<fake_token_around_image>``,
    ``<image>``, ``<global-img>``, ``<row_R_col_C>`` for R, C up to ``max_grid``,
    ``<end_of_utterance>``). Every special token is a special added token, so it is matched whole
    in text and never split; "Yes", "No", " Yes" and " No" are ordinary BPE tokens (an added token
    would also match inside "Nothing").
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import AddedToken, GPT2Tokenizer

    head = list(tok["head_special_tokens"])
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=tok["bpe_vocab_size"] + len(head),
        min_frequency=1,
        special_tokens=head,  # ids 0..len(head)-1
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    trainer_tok.train_from_iterator(_training_lines(tok), trainer)
    model = json.loads(trainer_tok.to_str())["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    for token in tail_special_tokens(tok):
        vocab[token] = len(vocab)

    tokenizer = GPT2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=tok["unk_token"],
        bos_token=tok["bos_token"],
        eos_token=tok["eos_token"],
        pad_token=tok["pad_token"],
        add_prefix_space=False,
        # Named VLM tokens: SmolVLMProcessor reads them as tokenizer attributes (image_token, ...).
        extra_special_tokens={
            "fake_image_token": tok["fake_image_token"],
            "image_token": tok["image_token"],
            "global_image_token": tok["global_image_token"],
            "end_of_utterance_token": tok["end_of_utterance_token"],
        },
        padding_side=tok["padding_side"],
        truncation_side=tok["truncation_side"],
        model_max_length=tok["model_max_length"],
    )
    # Register every head/tail token as a special added token at its fixed vocab id.
    tokenizer.add_tokens(
        [AddedToken(t, special=True, normalized=False) for t in head + tail_special_tokens(tok)],
        special_tokens=True,
    )
    _check_tokenizer(tokenizer, tok)
    return tokenizer


def _check_tokenizer(tokenizer, tok: dict[str, Any]) -> None:
    """Fail early if a special token was split or moved, or an answer word is not one token."""
    expected = {t: i for i, t in enumerate(tok["head_special_tokens"])}
    base = tokenizer.convert_tokens_to_ids(tok["fake_image_token"])
    expected.update({t: base + i for i, t in enumerate(tail_special_tokens(tok))})
    for token, token_id in expected.items():
        got = tokenizer.encode(token, add_special_tokens=False)
        if got != [token_id]:
            raise ValueError(f"special token {token!r} encodes to {got}, expected [{token_id}]")
    if len(tokenizer) != base + len(tail_special_tokens(tok)):
        raise ValueError(f"vocabulary has gaps: len {len(tokenizer)}")
    for word in tok["single_token_words"]:
        ids = tokenizer.encode(word, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"{word!r} is {len(ids)} tokens {ids}; raise single_token_repeat")


def build_image_processor(cfg: dict[str, Any]):
    """A ``SmolVLMImageProcessor`` whose crops are the vision tower's input size.

    As in SmolVLM2 (crops of 384, longest edge 4 x 384): crops are ``vision.image_size`` square and
    an image is first resized so its longest edge is ``split_factor`` crops; a 64 x 64 image with
    32-pixel crops becomes 2 x 2 crops plus the global image, 5 frames.
    """
    from transformers import SmolVLMImageProcessor

    ip, crop = cfg["image_processor"], cfg["vision"]["image_size"]
    return SmolVLMImageProcessor(
        do_convert_rgb=True,
        do_resize=True,
        size={"longest_edge": ip["split_factor"] * crop},
        resample=ip["resample"],
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=ip["image_mean"],
        image_std=ip["image_std"],
        do_pad=True,
        do_image_splitting=ip["do_image_splitting"],
        max_image_size={"longest_edge": crop},
    )


def build_video_processor(cfg: dict[str, Any]):
    """A ``SmolVLMVideoProcessor`` with frames the vision tower's size (unused by the judge, but
    ``SmolVLMProcessor`` has one and ``AutoProcessor`` loads it)."""
    from transformers import SmolVLMVideoProcessor

    ip, crop = cfg["image_processor"], cfg["vision"]["image_size"]
    return SmolVLMVideoProcessor(
        resample=ip["resample"],
        image_mean=ip["image_mean"],
        image_std=ip["image_std"],
        max_image_size={"longest_edge": crop},
        size={"longest_edge": crop},
        video_sampling={"fps": 1, "max_frames": ip["max_frames"], "video_size": {"longest_edge": crop}},
    )


def image_seq_len(cfg: dict[str, Any]) -> int:
    """``<image>`` tokens per frame: (image_size // patch_size)^2 / scale_factor^2, as the model
    counts them (SmolVLM2: 384 // 14 = 27 patches a side, 27^2 / 3^2 = 81)."""
    side, scale = cfg["vision"]["image_size"] // cfg["vision"]["patch_size"], cfg["scale_factor"]
    if side % scale:
        raise ValueError("the patches a side (image_size // patch_size) must be a multiple of scale_factor")
    return (side // scale) ** 2


def build_processor(cfg: dict[str, Any]):
    """The ``SmolVLMProcessor`` (tokenizer, image and video processors, chat template)."""
    from transformers import SmolVLMProcessor

    return SmolVLMProcessor(
        image_processor=build_image_processor(cfg),
        tokenizer=build_tokenizer(cfg["tokenizer"]),
        video_processor=build_video_processor(cfg),
        image_seq_len=image_seq_len(cfg),
        chat_template=chat_template(cfg["tokenizer"]),
    )


def model_config(cfg: dict[str, Any], tokenizer):
    """The ``SmolVLMConfig``: SmolVLM vision config, Llama text config sized to the tokenizer."""
    from transformers import LlamaConfig, SmolVLMConfig, SmolVLMVisionConfig

    tok = cfg["tokenizer"]
    ids = {k: tokenizer.convert_tokens_to_ids(tok[k]) for k in ("bos_token", "eos_token", "pad_token")}
    vision = {k: v for k, v in cfg["vision"].items() if not k.startswith("_")}
    text = {k: v for k, v in cfg["text"].items() if not k.startswith("_")}
    rope_theta = text.pop("rope_theta")
    text_config = LlamaConfig(
        vocab_size=len(tokenizer),
        head_dim=text["hidden_size"] // text["num_attention_heads"],
        rope_parameters={"rope_type": "default", "rope_theta": rope_theta},
        hidden_act="silu",
        tie_word_embeddings=False,
        bos_token_id=ids["bos_token"],
        eos_token_id=ids["eos_token"],
        pad_token_id=ids["pad_token"],
        **text,
    )
    return SmolVLMConfig(
        vision_config=SmolVLMVisionConfig(**vision),
        text_config=text_config,
        scale_factor=cfg["scale_factor"],
        image_token_id=tokenizer.convert_tokens_to_ids(tok["image_token"]),
        tie_word_embeddings=False,
        pad_token_id=ids["pad_token"],
    )


def build_model(cfg: dict[str, Any], tokenizer):
    """``SmolVLMForConditionalGeneration`` with seeded random weights, float32, eval mode."""
    import torch
    from transformers import SmolVLMForConditionalGeneration

    config = model_config(cfg, tokenizer)
    torch.manual_seed(cfg["seed"])
    return SmolVLMForConditionalGeneration(config).eval()


def build(config: dict[str, Any], folder: Path) -> None:
    """Build the stand-in from its offline config and save it into `folder` (model, processor,
    tokenizer, chat template), so `AutoProcessor` and `AutoModelForImageTextToText` load it."""
    processor = build_processor(config)
    build_model(config, processor.tokenizer).save_pretrained(folder)
    processor.save_pretrained(folder)
