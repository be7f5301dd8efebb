"""Vision-language models that answer yes/no questions about an image, as MAGIC's evaluator does:
P(yes) is read off the next-token logits after the chat template's generation prompt (no text
is generated or parsed).

The answer tokens come from the chat template itself: the conversation is rendered once with the
assistant's answer "Yes" (and once "No") and once with only the generation prompt, and the first
token after the shared prefix is the answer token. SmolVLM2's prompt ends in "Assistant:", after
which the model writes " Yes" (with a space); Qwen-VL's and Gemma's end in a newline, after which
it writes "Yes". Any model that loads with `AutoProcessor` + `AutoModelForImageTextToText` and has
a chat template works; `tiny-offline-vlm` is SmolVLM2's family at toy size (see tiny_vlm).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from ..config import TINY_VLM_ID
from ..errors import PlaygroundError
from .cache import Cache
from .loading import hub_errors_as_sentences, pick_device, source_of

ANSWERS = ("Yes", "No")

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


class VisionLanguageModel:
    """A loaded vision-language model and its processor, answering yes/no questions."""

    def __init__(self, model_id: str, model: torch.nn.Module, processor, batch_size: int = 8) -> None:
        self.model_id, self.model, self.processor, self.batch_size = model_id, model, processor, batch_size
        self.yes_id, self.no_id = answer_ids(processor)

    def prompt(self, question: str) -> str:
        """The chat-template text of one user turn (image, then question) and the generation prompt."""
        return self.processor.apply_chat_template(_turn(question), add_generation_prompt=True, tokenize=False)

    def inputs(self, images: Sequence[Image.Image], questions: Sequence[str]):
        """Processor outputs for (image, question) pairs, padded on the left."""
        return self.processor(text=[self.prompt(q) for q in questions], images=[[im.convert("RGB")] for im in images],
                              padding=True, padding_side="left", return_tensors="pt")

    @torch.no_grad()
    def next_token_logits(self, inputs) -> torch.Tensor:
        """Logits (pairs, vocab) of the token after each (left-padded) prompt. Every processor
        output goes to the model as it is (SmolVLM's pixel mask, Qwen-VL's image grid, ...)."""
        device, dtype = self.model.device, self.model.dtype
        batch = {k: v.to(device, dtype) if k == "pixel_values" else v.to(device) for k, v in inputs.items()}
        return self.model(**batch, use_cache=False, logits_to_keep=1).logits[:, -1, :].float()

    def p_yes(self, images: Sequence[Image.Image], questions: Sequence[str]) -> list[float]:
        """P(yes) for each pair (images[i], questions[i]): the softmax over the two answer logits."""
        if len(images) != len(questions):
            raise PlaygroundError(f"{len(images)} images but {len(questions)} questions: one of each per pair.")
        answers: list[float] = []
        for start in range(0, len(images), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            logits = self.next_token_logits(self.inputs(images[chunk], questions[chunk]))
            answers += logits[:, [self.yes_id, self.no_id]].softmax(dim=-1)[:, 0].tolist()
        return answers


def load_vlm(model_id: str, device: str | None = None) -> VisionLanguageModel:
    """A vision-language model loaded once and cached: a Hub id (the default SmolVLM2, Qwen3-VL,
    MedGemma where the operator has access), a folder, or `tiny-offline-vlm`.

    Raises:
        HubUnreachableError: the Hub did not answer within PLAYGROUND_HUB_TIMEOUT seconds.
    """
    torch_device, _ = pick_device(device)

    def load() -> VisionLanguageModel:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        source = source_of(model_id, "judge")
        dtype = torch.bfloat16 if torch_device.type == "cuda" else torch.float32
        with hub_errors_as_sentences(model_id):
            processor = AutoProcessor.from_pretrained(source)
            model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(torch_device).eval()
        return VisionLanguageModel(model_id, model.requires_grad_(False), processor)

    return _models.get((model_id, str(torch_device)), load, max_items=1)


__all__ = ["TINY_VLM_ID", "VisionLanguageModel", "answer_ids", "load_vlm"]
