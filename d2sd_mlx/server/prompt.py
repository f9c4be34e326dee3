"""Token ids for a request: the chat template for messages, the plain encoding for a prompt.

The server templates and tokenizes itself and hands `stream_generate` token ids, so what the
model sees does not depend on how the API would treat a string.
"""

from __future__ import annotations

import threading

from ..chat_template import messages_ids
from .errors import bad_request
from .request import CHAT, CompletionRequest

_LOCK = threading.Lock()  # handler threads tokenize one at a time (tokenizers are not documented thread-safe)


def chat_ids(tokenizer, messages) -> list[int]:
    """The chat template with the assistant's turn opened; a plain transcript for a base model
    (`chat_template.messages_ids`); a template that refuses the messages is a 400."""
    try:
        return messages_ids(tokenizer, messages)
    except Exception as e:  # jinja errors: roles that must alternate, a missing system slot, …
        raise bad_request(f"the model's chat template rejected 'messages': {e}", "messages", "invalid_messages") from e


def request_ids(tokenizer, req: CompletionRequest) -> list[int]:
    """Token ids of the request's messages or prompt (raises APIError 400 when there are none)."""
    field = "messages" if req.kind == CHAT else "prompt"
    if req.kind != CHAT and not isinstance(req.prompt, str):
        ids = list(req.prompt)
    else:
        if tokenizer is None:
            raise bad_request("this model has no tokenizer: send 'prompt' as token ids", field, "no_tokenizer")
        with _LOCK:
            ids = chat_ids(tokenizer, req.messages) if req.kind == CHAT else list(tokenizer.encode(req.prompt))
    if not ids:
        raise bad_request(f"'{field}' is empty", field, "empty_prompt")
    return ids


def fit_context(ids: list[int], max_tokens: int, max_context: int, field: str) -> int:
    """The max_tokens that fits after the prompt; a 400 when the prompt alone fills the context."""
    if len(ids) >= max_context:
        raise bad_request(
            f"'{field}' is {len(ids)} tokens long; the model's context is {max_context} tokens", field,
            "context_length_exceeded",
        )
    return min(max_tokens, max_context - len(ids))
