"""Token ids of a prompt, the one encoder (API, CLI, server, app, training data, bench).

A conversation goes through the model's chat template with the assistant's turn opened (as
`mlx_lm.generate`'s command line does); a model without a template gets a plain transcript
("User: …\n\nAssistant:"). A text prompt is a user message, or the text as it is with raw=True or
when the model has no template.
"""

from __future__ import annotations


def has_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def transcript(messages) -> str:
    """The plain-text form of a conversation, for a model without a chat template."""
    return "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant:"


def messages_ids(tokenizer, messages) -> list[int]:
    """Token ids of a list of {"role", "content"} messages, ready for the assistant's reply."""
    messages = [dict(m) for m in messages]
    if not has_template(tokenizer):
        return list(tokenizer.encode(transcript(messages)))
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    if isinstance(out, str):  # some tokenizers return the rendered text
        return list(tokenizer.encode(out, add_special_tokens=False))
    if hasattr(out, "keys"):  # a BatchEncoding
        out = out["input_ids"]
    return [int(t) for t in out]


def prompt_ids(tokenizer, prompt, *, system: str | None = None, raw: bool = False) -> list[int]:
    """Token ids of text (a user message; `system` adds a system message) or of a list of messages."""
    if isinstance(prompt, str):
        if raw or not has_template(tokenizer):
            return list(tokenizer.encode(prompt))
        prompt = [{"role": "user", "content": prompt}]
    messages = list(prompt)
    if system:
        messages = [{"role": "system", "content": system}] + messages
    return messages_ids(tokenizer, messages)
