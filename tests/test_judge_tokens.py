"""The checklist judge reads P(yes) off the token its chat template makes the model write first:
" Yes" after SmolVLM's "Assistant:", "Yes" after the newline that ends Qwen-VL's and Gemma's
generation prompts. Two tiny judges, one template of each style, on the same weights; their answer
logits are set on the model's own head, so the intended P(yes) is known."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from PIL import Image

from playground.config import TINY_VLM_ID
from playground.errors import PlaygroundError
from playground.models.vlm import VisionLanguageModel, load_vlm

# Qwen3-VL's template, at the level that matters here: role headers, a turn end, and a generation
# prompt that ends in a newline (the image is the tiny processor's own placeholder).
QWEN_STYLE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for line in message['content'] %}{% if line['type'] == 'image' %}<image>{% else %}{{ line['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def smolvlm() -> VisionLanguageModel:
    return load_vlm(TINY_VLM_ID, "cpu")


def with_template(judge: VisionLanguageModel, template: str | None) -> VisionLanguageModel:
    if template is None:
        return judge
    processor = copy.deepcopy(judge.processor)
    processor.chat_template = template
    return VisionLanguageModel(judge.model_id, judge.model, processor)


def set_logits(model: torch.nn.Module, values: dict[int, float]):
    """Make the model's head write `values` at those token ids (every other logit as it was)."""
    def hook(_module, _inputs, logits):
        logits = logits.clone()
        for token, value in values.items():
            logits[..., token] = value
        return logits

    return model.lm_head.register_forward_hook(hook)


@pytest.mark.parametrize(("template", "written", "other"), [(None, " Yes", "Yes"), (QWEN_STYLE, "Yes", " Yes")],
                         ids=["smolvlm-style", "qwen-style"])
def test_p_yes_is_read_off_the_answer_token_the_template_leads_to(smolvlm, template, written, other):
    judge = with_template(smolvlm, template)
    tokenizer = judge.processor.tokenizer
    assert tokenizer.decode([judge.yes_id]) == written and tokenizer.decode([judge.no_id]) == written.replace("Yes", "No")
    (other_yes,) = tokenizer.encode(other, add_special_tokens=False)
    (other_no,) = tokenizer.encode(other.replace("Yes", "No"), add_special_tokens=False)
    # The intended answer says yes (logit 2 against 0); the other spelling says the opposite, loudly.
    handle = set_logits(judge.model, {judge.yes_id: 2.0, judge.no_id: 0.0, other_yes: -6.0, other_no: 6.0})
    try:
        (p_yes,) = judge.p_yes([Image.new("RGB", (64, 64), "white")], ["Is this an image?"])
    finally:
        handle.remove()
    assert p_yes == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-4)


def test_a_template_whose_answer_does_not_follow_its_prompt_is_refused_in_a_sentence(smolvlm):
    # A generation prompt ending in a space: the answer's own space-joined token would not follow it.
    with pytest.raises(PlaygroundError, match="does not write the answer after its generation prompt"):
        with_template(smolvlm, QWEN_STYLE.replace("assistant\\n", "Assistant: ").replace("assistant\n", "Assistant: "))
