"""Vision-language models that answer yes/no questions about an image, as MAGIC's evaluator does:
P(yes) is read off the next-token logits after the chat template's generation prompt (no text
is generated or parsed).

The answer tokens come from the chat template itself: the conversation is rendered once with the
assistant's answer "Yes" (and once "No") and once with only the generation prompt, and the first
token after the shared prefix is the answer token. SmolVLM2's prompt ends in "Assistant:", after
which the model writes " Yes" (with a space); Qwen-VL's and Gemma's end in a newline, after which
it writes "Yes". Any model that loads with `AutoProcessor` + `AutoModelForImageTextToText` and has
a chat template works; `tiny-offline-vlm` is SmolVLM2's family at toy size (see tiny_vlm).

Each answer is read two ways (`Answer`): P(yes) renormalised over the two answer tokens (what the
judge scores with), and the raw probability of the "Yes" token over the whole vocabulary, which is
VQAScore as published (Lin et al. 2024), so scores can be set against published VQAScore numbers.

A checklist asks several questions about one image, and every prompt shares the image's part:
`checklist_answers` preprocesses and encodes each image once, runs the text model once over the
shared prefix (up to the last image token) and answers all its questions from those cached keys
and values (see `SHARED_PREFIX_TYPES` for the families that can).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from PIL import Image

from ..config import TINY_VLM_ID, get_settings
from ..errors import PlaygroundError
from .cache import Cache
from .loading import hub_errors_as_sentences, pick_device, source_of

ANSWERS = ("Yes", "No")
# Model types whose forward we read (transformers 5.23) and that take a cached prefix safely: the
# image features replace the image tokens of the ids given, and the text model (Llama) numbers
# positions on from the cache's length. Qwen-VL cannot (its 3-D rope positions and rope_deltas
# come from the whole sequence and its image grid) and Gemma 3's was not read: both answer each
# (image, question) pair as its own sequence.
SHARED_PREFIX_TYPES = frozenset({"smolvlm", "idefics3"})

_models = Cache()


def _turn(question: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


def answer_ids(processor, question: str = "Is this an image?") -> tuple[int, int]:
    """The token ids the model writes first when it answers Yes and No, read off its chat template.

    Raises PlaygroundError when the template does not render an answer after its generation
    prompt, or an answer is split into several tokens (it could not be read from one logit).
    """
    tokenizer = processor.tokenizer
    prompt = processor.apply_chat_template(_turn(question), add_generation_prompt=True, tokenize=False)
    asked = tokenizer.encode(prompt, add_special_tokens=False)
    ids = []
    for answer in ANSWERS:
        said = [*_turn(question), {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
        full = tokenizer.encode(processor.apply_chat_template(said, tokenize=False), add_special_tokens=False)
        if full[: len(asked)] != asked or len(full) == len(asked):
            raise PlaygroundError("The judge's chat template does not write the answer after its generation prompt; "
                                  "its P(yes) cannot be read.")
        first = full[len(asked)]
        if tokenizer.decode([first]).strip() != answer:
            raise PlaygroundError(f"The judge's tokenizer splits the answer {answer!r} into several tokens; "
                                  "it cannot be read as one yes/no answer.")
        ids.append(first)
    if ids[0] == ids[1]:
        raise PlaygroundError("The judge's tokenizer gives Yes and No the same token.")
    return ids[0], ids[1]


class Answer(NamedTuple):
    """One yes/no answer read off the next-token logits.

    Attributes:
        p_yes: P(yes) renormalised over the Yes and No answer tokens: softmax of their two logits.
        raw_yes: P("Yes") over the whole vocabulary (VQAScore as published): the softmax of every
            logit, at the token the chat template writes for "Yes". Never above `p_yes`; far below
            it when the model would rather write something other than Yes or No.
    """

    p_yes: float
    raw_yes: float


@dataclass(frozen=True)
class Reading:
    """One image made ready for its checklist: the token ids all its questions share (through the
    last image token), the processor's pixel tensors (a batch of one) and each question's own ids."""

    prefix: list[int]
    pixels: dict[str, torch.Tensor]
    suffixes: list[list[int]]

    @property
    def shape(self) -> tuple:
        """Readings of one shape (same processor settings and image size) share one forward."""
        return (len(self.prefix), *(tuple(v.shape) for v in self.pixels.values()))


def _around_image(ids: list[int], image_id: int) -> tuple[list[int], list[int]] | None:
    """The ids before and after the one image placeholder of an unexpanded prompt, or None."""
    if ids.count(image_id) != 1:
        return None
    at = ids.index(image_id)
    return ids[:at], ids[at + 1 :]


def _batches(readings: Sequence[Reading | None], size: int) -> list[list[int]]:
    """Positions of the readings grouped by shape, at most `size` to a group."""
    by_shape: dict[tuple, list[int]] = {}
    for i, reading in enumerate(readings):
        if reading is not None:
            by_shape.setdefault(reading.shape, []).append(i)
    return [same[s : s + size] for same in by_shape.values() for s in range(0, len(same), size)]


class VisionLanguageModel:
    """A loaded vision-language model and its processor, answering yes/no questions."""

    def __init__(self, model_id: str, model: torch.nn.Module, processor, batch_size: int = 8) -> None:
        self.model_id, self.model, self.processor, self.batch_size = model_id, model, processor, batch_size
        self.yes_id, self.no_id = answer_ids(processor)
        # As the processor's own apply_chat_template(tokenize=True) decides: a template that writes
        # the BOS itself (Gemma's "<bos>", Idefics3's "<|begin_of_text|>") gets no second one from the
        # tokenizer; answer_ids reads the template's tokens the same way.
        bos = processor.tokenizer.bos_token
        self.add_special_tokens = not (bos and self.prompt("").startswith(bos))

    def prompt(self, question: str) -> str:
        """The chat-template text of one user turn (image, then question) and the generation prompt."""
        return self.processor.apply_chat_template(_turn(question), add_generation_prompt=True, tokenize=False)

    def inputs(self, images: Sequence[Image.Image], questions: Sequence[str]):
        """Processor outputs for (image, question) pairs, padded on the left."""
        return self.processor(text=[self.prompt(q) for q in questions], images=[[im.convert("RGB")] for im in images],
                              padding=True, padding_side="left", add_special_tokens=self.add_special_tokens,
                              return_tensors="pt")

    def on_device(self, inputs) -> dict[str, torch.Tensor]:
        """Processor outputs on the model's device, pixels in its dtype."""
        device, dtype = self.model.device, self.model.dtype
        return {k: v.to(device, dtype) if k == "pixel_values" else v.to(device) for k, v in inputs.items()}

    @torch.no_grad()
    def next_token_logits(self, inputs) -> torch.Tensor:
        """Logits (pairs, vocab) of the token after each (left-padded) prompt. Every processor
        output goes to the model as it is (SmolVLM's pixel mask, Qwen-VL's image grid, ...)."""
        return self.model(**self.on_device(inputs), use_cache=False, logits_to_keep=1).logits[:, -1, :].float()

    def answer_of(self, logits: torch.Tensor) -> list[Answer]:
        """The answers in next-token logits (rows, vocab): renormalised and raw (see `Answer`)."""
        renormalised = logits[:, [self.yes_id, self.no_id]].softmax(dim=-1)[:, 0]
        raw = logits.softmax(dim=-1)[:, self.yes_id]
        return [Answer(p, r) for p, r in zip(renormalised.tolist(), raw.tolist())]

    def answers(self, images: Sequence[Image.Image], questions: Sequence[str]) -> list[Answer]:
        """The answer for each pair (images[i], questions[i]), each pair its own sequence."""
        if len(images) != len(questions):
            raise PlaygroundError(f"{len(images)} images but {len(questions)} questions: one of each per pair.")
        answers: list[Answer] = []
        for start in range(0, len(images), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            answers += self.answer_of(self.next_token_logits(self.inputs(images[chunk], questions[chunk])))
        return answers

    def p_yes(self, images: Sequence[Image.Image], questions: Sequence[str]) -> list[float]:
        """P(yes) (renormalised) for each pair (images[i], questions[i]), each pair its own sequence."""
        return [answer.p_yes for answer in self.answers(images, questions)]

    def checklist_p_yes(self, images: Sequence[Image.Image], questions: Sequence[Sequence[str]]) -> list[list[float]]:
        """P(yes) (renormalised) for each of images[i]'s questions[i], reading each image once."""
        return [[answer.p_yes for answer in row] for row in self.checklist_answers(images, questions)]

    def checklist_answers(self, images: Sequence[Image.Image], questions: Sequence[Sequence[str]]) -> list[list[Answer]]:
        """The answer to each of images[i]'s questions[i], reading each image once: the answers
        `answers` gives pair by pair, within float rounding.

        Images of one shape are read together, `batch_size` at a time, and their questions answered
        `batch_size` at a time. A model type outside SHARED_PREFIX_TYPES, and an image whose prompts
        do not split around it (see `reading`), is asked pair by pair with `answers`.
        """
        if len(images) != len(questions):
            raise PlaygroundError(f"{len(images)} images but {len(questions)} question lists: one list per image.")
        shared = self.model.config.model_type in SHARED_PREFIX_TYPES
        readings = [self.reading(im, qs) if shared and qs else None for im, qs in zip(images, questions)]
        answers: list[list[Answer]] = [[] for _ in images]
        alone = [i for i, reading in enumerate(readings) if reading is None]
        pairs = [(i, q) for i in alone for q in questions[i]]
        flat = iter(self.answers([images[i] for i, _ in pairs], [q for _, q in pairs]))
        for i in alone:
            answers[i] = [next(flat) for _ in questions[i]]
        for group in _batches(readings, self.batch_size):
            for i, found in zip(group, self._answer([readings[i] for i in group])):
                answers[i] = found
        return answers

    def reading(self, image: Image.Image, questions: Sequence[str]) -> Reading | None:
        """The image preprocessed once and each question's prompt split after its last image token.

        The processor expands the first prompt (image tokens for every frame); the others are only
        tokenized, with the same expansion put in place of their placeholder, so the image is not
        resized and cut into frames again per question (about 25 ms a time on a CPU for a 512 px
        image at SmolVLM2's settings, splitting on). None where that is not safe: the prompts
        differ before the image, or the expansion changes the tokens around the placeholder.
        """
        prompts = [self.prompt(q) for q in questions]
        image_id = self.model.config.image_token_id
        inputs = self.processor(text=prompts[:1], images=[[image.convert("RGB")]],
                                add_special_tokens=self.add_special_tokens, return_tensors="pt")
        expanded = inputs["input_ids"][0].tolist()
        unexpanded = self.processor.tokenizer(prompts, add_special_tokens=self.add_special_tokens)["input_ids"]
        splits = [_around_image(ids, image_id) for ids in unexpanded]
        if any(split is None or split[0] != splits[0][0] for split in splits):
            return None
        before, after = splits[0]
        end = len(expanded) - len(after)
        if expanded[: len(before)] != before or expanded[end:] != after or image_id not in expanded[:end]:
            return None
        cut = end - expanded[end - 1 :: -1].index(image_id)
        pixels = {k: v for k, v in sorted(inputs.items()) if k not in ("input_ids", "attention_mask")}
        return Reading(expanded[:cut], pixels, [expanded[cut:end] + split[1] for split in splits])

    @torch.no_grad()
    def _answer(self, readings: Sequence[Reading]) -> list[list[Answer]]:
        """Answers for readings of one shape: one forward over their prefixes with the pixels (the
        vision tower's only run), then their questions, `batch_size` at a time, each on a copy of
        its image's cached keys and values."""
        batch = {"input_ids": torch.tensor([r.prefix for r in readings]),
                 **{k: torch.cat([r.pixels[k] for r in readings]) for k in readings[0].pixels}}
        cached = self.model(**self.on_device(batch), use_cache=True, logits_to_keep=1).past_key_values
        layers = [(keys, values) for keys, values, *_ in cached]
        rows = [(i, suffix) for i, reading in enumerate(readings) for suffix in reading.suffixes]
        found: list[Answer] = []
        for start in range(0, len(rows), self.batch_size):
            found += self._answer_suffixes(layers, rows[start : start + self.batch_size])
        flat = iter(found)
        return [[next(flat) for _ in reading.suffixes] for reading in readings]

    def _answer_suffixes(self, layers: list[tuple[torch.Tensor, torch.Tensor]],
                         rows: Sequence[tuple[int, list[int]]]) -> list[Answer]:
        """The answer after each (prefix index, suffix ids) row, on that prefix's keys and values.

        Suffixes are padded on the right: a causal model's logits at a suffix's last token do not
        see the padding after it, and the text model numbers the suffix's positions on from the
        cache's length, as in the whole sequence.
        """
        from transformers import DynamicCache

        device = self.model.device
        owners = torch.tensor([i for i, _ in rows], device=device)
        cache = DynamicCache([(keys[owners], values[owners]) for keys, values in layers], config=self.model.config)
        width, pad = max(len(s) for _, s in rows), self.processor.tokenizer.pad_token_id or 0
        ids = torch.tensor([s + [pad] * (width - len(s)) for _, s in rows], device=device)
        logits = self.model(input_ids=ids, past_key_values=cache, use_cache=True).logits
        last = torch.tensor([len(s) - 1 for _, s in rows], device=device)
        return self.answer_of(logits[torch.arange(len(rows), device=device), last].float())


def one_frame(processor) -> None:
    """Turn off the processor's image splitting where it has one (SmolVLM, Idefics3): an image is
    then resized to one square frame of `max_image_size` instead of a grid of crops plus the whole
    image. Processors without splitting (Qwen-VL, Gemma) are left as they are."""
    image_processor = getattr(processor, "image_processor", None)
    if getattr(image_processor, "do_image_splitting", False):
        image_processor.do_image_splitting = False


def load_vlm(model_id: str, device: str | None = None, split_images: bool | None = None) -> VisionLanguageModel:
    """A vision-language model loaded once and cached: a Hub id (the default SmolVLM2, Qwen3-VL,
    MedGemma where the operator has access), a folder, or `tiny-offline-vlm`.

    `split_images=False` (default: PLAYGROUND_JUDGE_SPLIT, on) shows the judge each image as one
    frame (see `one_frame`).

    Raises:
        HubUnreachableError: the Hub did not answer within PLAYGROUND_HUB_TIMEOUT seconds.
    """
    torch_device, _ = pick_device(device)
    split = get_settings().judge_split if split_images is None else split_images

    def load() -> VisionLanguageModel:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        source = source_of(model_id, "judge")
        dtype = torch.bfloat16 if torch_device.type == "cuda" else torch.float32
        with hub_errors_as_sentences(model_id):
            processor = AutoProcessor.from_pretrained(source)
            model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(torch_device).eval()
        if not split:
            one_frame(processor)
        return VisionLanguageModel(model_id, model.requires_grad_(False), processor)

    return _models.get((model_id, str(torch_device), split), load, max_items=1)


__all__ = ["SHARED_PREFIX_TYPES", "TINY_VLM_ID", "Answer", "Reading", "VisionLanguageModel", "answer_ids", "load_vlm",
           "one_frame"]
