"""Vision-language judges: ask a multimodal model a yes/no question about an image, as MAGIC's
evaluator does, and read P(yes) off its next-token logits (no text is generated or parsed).

The question goes in as a user turn holding the image, then the text, through the processor's
chat template with the generation prompt ("Assistant:" for SmolVLM2); one forward pass gives the
logits of the token after the prompt, and P(yes) = softmax([logit(" Yes"), logit(" No")])[0]. The
answer tokens carry the leading space the model writes after "Assistant:". Any model that loads
with `AutoProcessor` + `AutoModelForImageTextToText` and has a chat template works; the tiny
stand-in `tiny-offline-vlm` is SmolVLM2's family at toy size (see tiny_vlm).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from ..errors import PlaygroundError
from .models import Cache, hub_errors_as_sentences, pick_device, source_of
from .score_cache import cached_readings

TINY_JUDGE_ID = "tiny-offline-vlm"
YES, NO = " Yes", " No"

_judges = Cache()


def answer_ids(tokenizer, yes: str = YES, no: str = NO) -> tuple[int, int]:
    """The token ids of the two answers; each word must be exactly one token, and they differ."""
    ids = []
    for word in (yes, no):
        encoded = tokenizer.encode(word, add_special_tokens=False)
        if len(encoded) != 1:
            raise PlaygroundError(f"The judge's tokenizer splits {word!r} into {len(encoded)} tokens; "
                                  "it cannot be read as one yes/no answer.")
        ids.append(encoded[0])
    if ids[0] == ids[1]:
        raise PlaygroundError(f"The judge's tokenizer gives {yes!r} and {no!r} the same token.")
    return ids[0], ids[1]


class VisionJudge:
    """A loaded vision-language model and its processor, answering yes/no questions."""

    def __init__(self, judge_id: str, model: torch.nn.Module, processor, batch_size: int = 8) -> None:
        self.judge_id, self.model, self.processor, self.batch_size = judge_id, model, processor, batch_size
        self.yes_id, self.no_id = answer_ids(processor.tokenizer)

    def prompt(self, question: str) -> str:
        """The chat-template text of one user turn (image, then question) and the generation prompt."""
        turn = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        return self.processor.apply_chat_template(turn, add_generation_prompt=True, tokenize=False)

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
        """P(yes) for each pair (images[i], questions[i]): from the score cache where this judge
        answered the same question on the same image before, else computed in batches."""
        if len(images) != len(questions):
            raise PlaygroundError(f"{len(images)} images but {len(questions)} questions: one of each per pair.")
        if not images:
            return []
        answers = cached_readings(f"judge:{self.judge_id}", images,
                                  lambda at: [[p] for p in self._p_yes([images[i] for i in at], [questions[i] for i in at])],
                                  extra=questions)
        return [float(a[0]) for a in answers]

    def _p_yes(self, images: Sequence[Image.Image], questions: Sequence[str]) -> list[float]:
        answers: list[float] = []
        for start in range(0, len(images), self.batch_size):
            chunk = slice(start, start + self.batch_size)
            logits = self.next_token_logits(self.inputs(images[chunk], questions[chunk]))
            answers += logits[:, [self.yes_id, self.no_id]].softmax(dim=-1)[:, 0].tolist()
        return answers


def load_judge(judge_id: str, device: str | None = None) -> VisionJudge:
    """A vision-language judge loaded once and cached: a Hub id (the default SmolVLM2, Qwen3-VL,
    MedGemma where the operator has access), a folder, or `tiny-offline-vlm`.

    Raises:
        HubUnreachableError: the Hub did not answer within PLAYGROUND_HUB_TIMEOUT seconds.
    """
    torch_device, _ = pick_device(device)

    def load() -> VisionJudge:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        source = source_of(judge_id, "judge")
        dtype = torch.bfloat16 if torch_device.type == "cuda" else torch.float32
        with hub_errors_as_sentences(judge_id):
            processor = AutoProcessor.from_pretrained(source)
            model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(torch_device).eval()
        return VisionJudge(judge_id, model.requires_grad_(False), processor)

    return _judges.get((judge_id, str(torch_device)), load, max_items=1)
